"""Hungarian and Greek strings that other work on issue 12 added to the console (composer, error pages,
QA, pager, wallboard), swept into the catalogs. Merged after catalog_console.py by `build.py`."""

HU: dict[object, str] = {
    # ticket composer (web/ticket_views.py, ticket.html)
    "Update the ticket": "Jegy frissítése", "Update": "Frissítés", "Who reads this": "Ki olvassa",
    "Internal note": "Belső megjegyzés", "Reply to the customer": "Válasz az ügyfélnek", "Message": "Üzenet",
    "internal: only staff see this": "belső: csak a munkatársak látják",
    "no e-mail address: portal only": "nincs e-mail-cím: csak a portálon",
    "— no change —": "— nincs változás —", "Time spent (h)": "Ráfordított idő (óra)",
    "the customer is told of a status change (mail and portal)":
        "az ügyfél értesül az állapotváltozásról (e-mail és portál)",
    "level, assignee and time are internal": "a szint, a felelős és az idő belső adat",
    "the customer is told of a change": "az ügyfél értesül a változásról", "customer is told": "az ügyfél értesül",
    "More": "Továbbiak", "Mail to the customer": "Levél az ügyfélnek", "Saved.": "Mentve.",
    "Updated: %(what)s.": "Frissítve: %(what)s.", "status changed": "állapot módosítva",
    "reply sent to the customer": "válasz elküldve az ügyfélnek", "internal note added": "belső megjegyzés hozzáadva",
    "level changed": "szint módosítva", "assignee changed": "felelős módosítva", "time logged": "idő rögzítve",
    "reopened": "újranyitva",
    "e-mailed to the authorised contact (special requests) and shown in the portal":
        "a jogosult kapcsolattartó e-mailben megkapja (különleges kérések) és a portálon látja",
    # QA
    "Answered by": "Fogadta", "Talk time": "Beszélgetési idő",
    "This call has no recording to listen to, so it cannot be scored.":
        "Ennek a hívásnak nincs meghallgatható felvétele, ezért nem értékelhető.",
    # error pages and the reports form
    "Back": "Vissza", "Home": "Kezdőlap", "Bad Request": "Hibás kérés", "Unauthorized": "Bejelentkezés szükséges",
    "Forbidden": "Nincs jogosultság", "Not Found": "Nem található", "Method Not Allowed": "Nem engedélyezett művelet",
    "Gone": "Már nem elérhető", "Request Entity Too Large": "Túl nagy kérés", "Too Many Requests": "Túl sok kérés",
    "Internal Server Error": "Belső hiba", "Service Unavailable": "A szolgáltatás nem érhető el",
    "Something in the request could not be used. Check what you entered and try again.":
        "A kérés egy része nem használható. Ellenőrizze, mit adott meg, és próbálja újra.",
    "Something went wrong on our side. It has been logged; please try again in a moment.":
        "Hiba történt nálunk. Naplóztuk; kérjük, próbálja újra egy perc múlva.",
    "The service is busy or restarting. Please try again in a moment.":
        "A szolgáltatás foglalt vagy újraindul. Kérjük, próbálja újra egy perc múlva.",
    "There is no such page, or it is not visible to you.": "Nincs ilyen oldal, vagy Ön nem láthatja.",
    "This is no longer available.": "Ez már nem érhető el.", "This page cannot be used that way.":
        "Ez az oldal így nem használható.", "What you sent is too large.": "Amit küldött, túl nagy.",
    "Your account may not open this page.": "Az Ön fiókja nem nyithatja meg ezt az oldalt.",
    "Choose a company from the list.": "Válasszon céget a listából.",
    "Choose a quarter from the list.": "Válasszon negyedévet a listából.",
    "Choose a report from the list.": "Válasszon jelentést a listából.",
    "The quarterly SLA report is for one company: choose a company.":
        "A negyedéves SLA-jelentés egy cégről szól: válasszon céget.",
    # on-call pager (consoleB)
    "Acknowledge selected": "Kijelöltek nyugtázása", "Acknowledged by %(name)s at %(time)s":
        "Nyugtázta: %(name)s, %(time)s", "Acknowledged: %(alerts)s": "Nyugtázva: %(alerts)s",
    "Alert %(id)s acknowledged: %(summary)s": "%(id)s. riasztás nyugtázva: %(summary)s",
    "Alert %(id)s escalated to the next step: %(summary)s":
        "%(id)s. riasztás a következő lépésre eszkalálva: %(summary)s",
    "Alert %(id)s resolved: %(summary)s": "%(id)s. riasztás lezárva: %(summary)s",
    "Not acknowledged (already acknowledged, resolved or not yours): %(alerts)s":
        "Nincs nyugtázva (már nyugtázták, lezárták, vagy nem az Öné): %(alerts)s",
    "Nothing to do for alert %(id)s (%(summary)s): it has moved on meanwhile.":
        "A(z) %(id)s. riasztással (%(summary)s) nincs teendő: közben továbblépett.",
    "Paging now": "Most riasztjuk", "Select alert %(id)s": "%(id)s. riasztás kijelölése",
    "Select the alerts to acknowledge first.": "Előbb jelölje ki a nyugtázandó riasztásokat.",
    "alert": "riasztás", "nobody reached yet": "még senkit sem értünk el", "nobody yet": "még senki",
    "round %(loop)s": "%(loop)s. kör", "step %(step)s": "%(step)s. lépés",
    "step %(step)s of %(steps)s": "%(step)s. lépés (összesen %(steps)s)",
    # call notification on every page, skip link (consoleB)
    "Call for you": "Hívása van", "On a call with": "Hívásban:", "waited": "várt", "Open the desk": "A pult megnyitása",
    "Skip to content": "Ugrás a tartalomra",
    # queue and ticket list: counts, paging, saved filters, search, bulk changes (consoleA)
    "%(count)d tickets changed.": "%(count)d jegy módosult.", "%(total)d tickets": "%(total)d jegy",
    "All": "Mind", "Apply to selected": "Alkalmazás a kijelöltekre", "Breaching in 1 h": "1 órán belül lejár",
    "My level": "Saját szintem", "Nothing was changed: %(reason)s": "Semmi sem változott: %(reason)s",
    "Pages": "Oldalak", "Saved filters": "Mentett szűrők", "Search": "Keresés",
    "Search subjects, messages, mails, caller numbers": "Keresés tárgyban, üzenetekben, levelekben, hívószámokban",
    "Select all on this page": "Az oldal összes jegyének kijelölése", "Selected": "Kijelölve",
    "page %(page)d of %(pages)d": "%(page)d. oldal / %(pages)d",
    "the customers are told of a status change": "az ügyfelek értesülnek az állapotváltozásról",
    # wallboard (consoleB)
    "Agents by state": "Munkatársak állapot szerint", "Answered within threshold today": "Ma küszöbön belül fogadva",
    "Full screen": "Teljes képernyő", "Longest wait": "Leghosszabb várakozás", "Now": "Most",
    # mails in the ticket's timeline (consoleA)
    "automatic reply": "automatikus válasz", "ticket update": "értesítés a jegyről",
    "approval request": "jóváhagyási kérés", "approval decision": "jóváhagyási döntés",
    # the pager while the database is unavailable (paging/commands.py)
    "Your reply was not recorded (the service is busy). Please send it again in a minute.":
        "A válaszát nem rögzítettük (a rendszer túlterhelt). Kérjük, küldje el újra egy perc múlva.",
    "Your answer was not recorded: the service is busy. You will be paged again.":
        "A válaszát nem rögzítettük: a rendszer túlterhelt. Hamarosan újra riasztjuk.",
}

EL: dict[object, str] = {
    "Update the ticket": "Ενημέρωση αιτήματος", "Update": "Ενημέρωση", "Who reads this": "Ποιος το διαβάζει",
    "Internal note": "Εσωτερική σημείωση", "Reply to the customer": "Απάντηση στον πελάτη", "Message": "Μήνυμα",
    "internal: only staff see this": "εσωτερικό: το βλέπει μόνο το προσωπικό",
    "no e-mail address: portal only": "χωρίς διεύθυνση e-mail: μόνο στην πύλη",
    "— no change —": "— χωρίς αλλαγή —", "Time spent (h)": "Χρόνος εργασίας (ώρες)",
    "the customer is told of a status change (mail and portal)":
        "ο πελάτης ενημερώνεται για την αλλαγή κατάστασης (e-mail και πύλη)",
    "level, assignee and time are internal": "το επίπεδο, ο υπεύθυνος και ο χρόνος είναι εσωτερικά",
    "the customer is told of a change": "ο πελάτης ενημερώνεται για την αλλαγή",
    "customer is told": "ενημερώνεται ο πελάτης", "More": "Περισσότερα", "Mail to the customer": "E-mail στον πελάτη",
    "Saved.": "Αποθηκεύτηκε.", "Updated: %(what)s.": "Ενημερώθηκε: %(what)s.",
    "status changed": "άλλαξε η κατάσταση", "reply sent to the customer": "στάλθηκε απάντηση στον πελάτη",
    "internal note added": "προστέθηκε εσωτερική σημείωση", "level changed": "άλλαξε το επίπεδο",
    "assignee changed": "άλλαξε ο υπεύθυνος", "time logged": "καταγράφηκε χρόνος", "reopened": "άνοιξε ξανά",
    "e-mailed to the authorised contact (special requests) and shown in the portal":
        "στέλνεται με e-mail στην εξουσιοδοτημένη επαφή (ειδικά αιτήματα) και φαίνεται στην πύλη",
    "Answered by": "Απάντησε", "Talk time": "Διάρκεια συνομιλίας",
    "This call has no recording to listen to, so it cannot be scored.":
        "Αυτή η κλήση δεν έχει ηχογράφηση για ακρόαση, οπότε δεν μπορεί να αξιολογηθεί.",
    "Back": "Πίσω", "Home": "Αρχική", "Bad Request": "Μη έγκυρο αίτημα", "Unauthorized": "Απαιτείται σύνδεση",
    "Forbidden": "Δεν επιτρέπεται", "Not Found": "Δεν βρέθηκε", "Method Not Allowed": "Μη επιτρεπτή ενέργεια",
    "Gone": "Δεν είναι πια διαθέσιμο", "Request Entity Too Large": "Πολύ μεγάλο αίτημα",
    "Too Many Requests": "Πάρα πολλά αιτήματα", "Internal Server Error": "Εσωτερικό σφάλμα",
    "Service Unavailable": "Η υπηρεσία δεν είναι διαθέσιμη",
    "Something in the request could not be used. Check what you entered and try again.":
        "Κάτι στο αίτημα δεν μπόρεσε να χρησιμοποιηθεί. Ελέγξτε τι καταχωρίσατε και δοκιμάστε ξανά.",
    "Something went wrong on our side. It has been logged; please try again in a moment.":
        "Κάτι πήγε στραβά σε εμάς. Καταγράφηκε· δοκιμάστε ξανά σε λίγο.",
    "The service is busy or restarting. Please try again in a moment.":
        "Η υπηρεσία είναι απασχολημένη ή επανεκκινείται. Δοκιμάστε ξανά σε λίγο.",
    "There is no such page, or it is not visible to you.": "Δεν υπάρχει τέτοια σελίδα ή δεν είναι ορατή σε εσάς.",
    "This is no longer available.": "Δεν είναι πια διαθέσιμο.",
    "This page cannot be used that way.": "Αυτή η σελίδα δεν μπορεί να χρησιμοποιηθεί έτσι.",
    "What you sent is too large.": "Αυτό που στείλατε είναι πολύ μεγάλο.",
    "Your account may not open this page.": "Ο λογαριασμός σας δεν μπορεί να ανοίξει αυτή τη σελίδα.",
    "Choose a company from the list.": "Επιλέξτε εταιρεία από τη λίστα.",
    "Choose a quarter from the list.": "Επιλέξτε τρίμηνο από τη λίστα.",
    "Choose a report from the list.": "Επιλέξτε αναφορά από τη λίστα.",
    "The quarterly SLA report is for one company: choose a company.":
        "Η τριμηνιαία αναφορά SLA αφορά μία εταιρεία: επιλέξτε εταιρεία.",
    "Acknowledge selected": "Επιβεβαίωση επιλεγμένων", "Acknowledged by %(name)s at %(time)s":
        "Επιβεβαιώθηκε από %(name)s στις %(time)s", "Acknowledged: %(alerts)s": "Επιβεβαιώθηκαν: %(alerts)s",
    "Alert %(id)s acknowledged: %(summary)s": "Η ειδοποίηση %(id)s επιβεβαιώθηκε: %(summary)s",
    "Alert %(id)s escalated to the next step: %(summary)s":
        "Η ειδοποίηση %(id)s κλιμακώθηκε στο επόμενο βήμα: %(summary)s",
    "Alert %(id)s resolved: %(summary)s": "Η ειδοποίηση %(id)s έκλεισε: %(summary)s",
    "Not acknowledged (already acknowledged, resolved or not yours): %(alerts)s":
        "Δεν επιβεβαιώθηκαν (ήδη επιβεβαιωμένες, κλειστές ή όχι δικές σας): %(alerts)s",
    "Nothing to do for alert %(id)s (%(summary)s): it has moved on meanwhile.":
        "Τίποτα να γίνει για την ειδοποίηση %(id)s (%(summary)s): προχώρησε στο μεταξύ.",
    "Paging now": "Ειδοποιείται τώρα", "Select alert %(id)s": "Επιλογή ειδοποίησης %(id)s",
    "Select the alerts to acknowledge first.": "Επιλέξτε πρώτα τις ειδοποιήσεις προς επιβεβαίωση.",
    "alert": "ειδοποίηση", "nobody reached yet": "δεν βρέθηκε κανείς ακόμη", "nobody yet": "κανείς ακόμη",
    "round %(loop)s": "γύρος %(loop)s", "step %(step)s": "βήμα %(step)s",
    "step %(step)s of %(steps)s": "βήμα %(step)s από %(steps)s",
    "Call for you": "Κλήση για εσάς", "On a call with": "Σε κλήση με", "waited": "αναμονή",
    "Open the desk": "Άνοιγμα θέσης εργασίας", "Skip to content": "Μετάβαση στο περιεχόμενο",
    "%(count)d tickets changed.": "Άλλαξαν %(count)d αιτήματα.", "%(total)d tickets": "%(total)d αιτήματα",
    "All": "Όλα", "Apply to selected": "Εφαρμογή στα επιλεγμένα", "Breaching in 1 h": "Λήγουν σε 1 ώρα",
    "My level": "Το επίπεδό μου", "Nothing was changed: %(reason)s": "Δεν άλλαξε τίποτα: %(reason)s",
    "Pages": "Σελίδες", "Saved filters": "Αποθηκευμένα φίλτρα", "Search": "Αναζήτηση",
    "Search subjects, messages, mails, caller numbers": "Αναζήτηση σε θέματα, μηνύματα, e-mail, αριθμούς καλούντων",
    "Select all on this page": "Επιλογή όλων σε αυτή τη σελίδα", "Selected": "Επιλεγμένα",
    "page %(page)d of %(pages)d": "σελίδα %(page)d από %(pages)d",
    "the customers are told of a status change": "οι πελάτες ενημερώνονται για την αλλαγή κατάστασης",
    "Agents by state": "Συνεργάτες ανά κατάσταση", "Answered within threshold today": "Απαντήθηκαν σήμερα εντός ορίου",
    "Full screen": "Πλήρης οθόνη", "Longest wait": "Μεγαλύτερη αναμονή", "Now": "Τώρα",
    "automatic reply": "αυτόματη απάντηση", "ticket update": "ενημέρωση για το αίτημα",
    "approval request": "αίτημα έγκρισης", "approval decision": "απόφαση έγκρισης",
    "Your reply was not recorded (the service is busy). Please send it again in a minute.":
        "Η απάντησή σας δεν καταγράφηκε (η υπηρεσία είναι φορτωμένη). Στείλτε την ξανά σε ένα λεπτό.",
    "Your answer was not recorded: the service is busy. You will be paged again.":
        "Η απάντησή σας δεν καταγράφηκε: η υπηρεσία είναι φορτωμένη. Θα ειδοποιηθείτε ξανά.",
}
