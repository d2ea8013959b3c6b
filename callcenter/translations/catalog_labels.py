"""Hungarian and Greek names of every stored code (web/labels.py), units and number formats, the PDF
report and the corrections of issue 12 item 9. Merged last by `build.py`, so these words win.

Keys are msgids; a (context, msgid) pair is a pgettext message (e.g. an alert's "Acknowledged")."""

HU: dict[object, str] = {
    # units (web/formats.py)
    "%(n)s h": "%(n)s ó", "%(n)s min": "%(n)s perc", "h": "ó",
    # report buckets (web/report_views.py)
    "< 30 s": "< 30 mp", "30–60 s": "30–60 mp", "1–2 min": "1–2 perc", "2–5 min": "2–5 perc",
    "5–10 min": "5–10 perc", "10–15 min": "10–15 perc", "≥ 15 min": "≥ 15 perc", "< 1 day": "< 1 nap",
    "1–3 days": "1–3 nap", "3–7 days": "3–7 nap", "7–30 days": "7–30 nap", "> 30 days": "> 30 nap",
    # contracts, contacts, links, life-cycle fields
    "24/7 standby": "24/7 ügyelet", "Business hours": "Munkaidőben", "working hours": "munkaidő",
    "calendar hours": "naptári idő", "Technical staff": "Műszaki munkatárs", "Coordinator": "Koordinátor",
    "End user": "Végfelhasználó", "Related": "Kapcsolódó", "Follow-up": "Folytatás", "Billable": "Számlázható",
    "Billed hours": "Számlázott órák", "System": "Rendszer", "Address": "Cím", "Sent to": "Címzett",
    # agents, offers, calls
    "Accepted": "Elfogadva", "Declined": "Elutasítva", "No answer": "Nem vette fel", "Cancelled": "Visszavonva",
    "Lost (caller gone)": "Elveszett (a hívó már nem volt vonalban)",
    # mail intake and the outbox
    "Added to a ticket": "Jegyhez csatolva", "Quarantined": "Karanténban", "Sending": "Küldés alatt",
    "Sent": "Elküldve", "Delivered": "Kézbesítve", "Given up": "Végleg sikertelen", "Not delivered": "Nem kézbesíthető",
    "Queued": "Sorban áll", "Logged": "Naplózva", "Busy": "Foglalt", "Will retry": "Újrapróbálkozik",
    "Reconciled": "Egyeztetve", "Sent again": "Újraküldve", "Unknown": "Ismeretlen",
    "Worker stopped": "A feldolgozó leállt", "Attempt": "Kísérlet", "Done": "Kész",
    # paging
    "Triggered": "Aktív", ("alert", "Acknowledged"): "Nyugtázva", ("alert", "Resolved"): "Lezárva",
    "Information": "Tájékoztató", "SMS": "SMS", "Voice call": "Hanghívás", "Command line": "Parancssor",
    "Standby line": "Ügyeleti vonal", "SLA clock": "SLA-óra",
    "Mailbox (IMAP)": "Postafiók (IMAP)", "Mail server (LMTP)": "Levelezőszerver (LMTP)",
    "Mail server (SMTP)": "Levelezőszerver (SMTP)", "Raised again": "Ismét riasztott",
    "Escalation step": "Eszkalációs lépés", "Notification": "Értesítés", "Unreachable": "Nem elérhető",
    "Nobody reached": "Senkit nem értünk el", "Not reached": "Nem értük el",
    "Acknowledgement timed out": "Lejárt a nyugtázás ideje", "Escalated by hand": "Kézzel eszkalálva",
    "Next contact method": "Következő elérési mód", "Answering machine": "Üzenetrögzítő",
    "weekly": "heti", "daily": "napi", "Rotation": "Beosztás", "Staff member": "Munkatárs",
    "Managers": "Vezetők",
    # the quarterly PDF
    "Quarterly SLA report — %(company)s": "Negyedéves SLA-jelentés — %(company)s",
    "Quarter %(quarter)s (%(start)s – %(end)s, %(zone)s); figures as of %(as_of)s":
        "%(quarter)s negyedév (%(start)s – %(end)s, %(zone)s); az adatok állapota: %(as_of)s",
    "Contract: %(contract)s (%(package)s)": "Szerződés: %(contract)s (%(package)s)",
    "Target (h)": "Cél (ó)", "Median (h)": "Medián (ó)", "Worst (h)": "Leghosszabb (ó)",
    "Response (h)": "Reakcióidő (ó)",
    "Share of tickets responded within target": "Határidőn belül reagált jegyek aránya",
    "Breaches (%(n)d)": "Túllépések (%(n)d)", "… and %(n)d more (see the CSV export).":
        "… és további %(n)d (lásd a CSV-exportot).",
    "None: every measured ticket was responded to within its target.":
        "Nincs: minden mért jegyre határidőn belül reagáltunk.",
    # corrections: "Pending" is also an approval waiting for a decision; a date range starts and ends
    "Pending": "Függőben", "From": "Kezdete", "To": "Vége", "Reason": "Indok",
    # the alert's audit trail (web/alert_trail.py)
    "round %(loop)s, step %(step)s: %(who)s": "%(loop)s. kör, %(step)s. lépés: %(who)s",
    "%(channel)s to %(to)s (rule %(rule)s, outbox %(id)s)":
        "%(channel)s ide: %(to)s (%(rule)s. szabály, kimenő üzenet %(id)s)",
    "raised again: %(summary)s": "ismét riasztott: %(summary)s",
    "%(source)s %(key)s; policy %(policy)s": "%(source)s %(key)s; eszkalációs rend: %(policy)s",
    "by %(name)s; %(n)s queued notifications dropped": "%(name)s; %(n)s várakozó értesítés törölve",
    "by %(name)s: paging starts over": "%(name)s: a riasztás elölről kezdődik", "by %(name)s": "%(name)s",
    "by %(name)s: %(note)s": "%(name)s: %(note)s", "outbox %(id)s": "kimenő üzenet %(id)s",
    "no escalation policy: nobody is paged": "nincs eszkalációs rend: senkit sem riasztunk",
    "every step and repeat paged; nobody acknowledged": "minden lépés és ismétlés lefutott; senki sem nyugtázta",
    "%(name)s has no phone number": "%(name)s számára nincs megadva telefonszám",
    "answered by %(who)s: not counted as reached": "felvette: %(who)s; nem számít elértnek",
    "%(reason)s: next contact method now instead of at %(at)s":
        "%(reason)s: a következő elérési mód most, nem %(at)s-kor",
    "%(reason)s: no more contact methods for this person": "%(reason)s: nincs több elérési mód ehhez a személyhez",
    "%(channel)s %(status)s after the alert was %(alert)s, outbox %(id)s":
        "%(channel)s: %(status)s, miután a riasztás állapota %(alert)s lett; kimenő üzenet %(id)s",
    "acknowledged by %(name)s %(minutes)s min ago and the ticket has not moved since: paging again":
        "%(name)s %(minutes)s perce nyugtázta, de a jegy azóta nem változott: újra riasztunk",
    "%(reason)s, outbox %(id)s": "%(reason)s, kimenő üzenet %(id)s", "Fax": "Fax",
    # alerts the system raises (web/alert_trail.py SUMMARIES)
    "no acknowledgement after step %(step)s": "a(z) %(step)s. lépés után senki sem nyugtázta",
    "Hotline call not answered for %(minutes)s min: %(subject)s":
        "Hotline-hívás %(minutes)s perce fogadatlan: %(subject)s",
    "Hotline call not answered for %(minutes)s min": "Hotline-hívás %(minutes)s perce fogadatlan",
    "SLA response deadline breached: %(subject)s": "Lejárt az SLA reakcióidő: %(subject)s",
    "SLA response deadline at %(at)s: %(subject)s": "SLA reakció-határidő %(at)s: %(subject)s",
}

EL: dict[object, str] = {
    "%(n)s h": "%(n)s ώ.", "%(n)s min": "%(n)s λεπ.", "h": "ώ.",
    "< 30 s": "< 30 δευτ.", "30–60 s": "30–60 δευτ.", "1–2 min": "1–2 λεπ.", "2–5 min": "2–5 λεπ.",
    "5–10 min": "5–10 λεπ.", "10–15 min": "10–15 λεπ.", "≥ 15 min": "≥ 15 λεπ.", "< 1 day": "< 1 ημέρα",
    "1–3 days": "1–3 ημέρες", "3–7 days": "3–7 ημέρες", "7–30 days": "7–30 ημέρες", "> 30 days": "> 30 ημέρες",
    "24/7 standby": "Εφημερία 24/7", "Business hours": "Ωράριο εργασίας", "working hours": "εργάσιμες ώρες",
    "calendar hours": "ημερολογιακές ώρες", "Technical staff": "Τεχνικό προσωπικό", "Coordinator": "Συντονιστής",
    "End user": "Τελικός χρήστης", "Related": "Σχετικό", "Follow-up": "Συνέχεια", "Billable": "Χρεώσιμο",
    "Billed hours": "Χρεωμένες ώρες", "System": "Σύστημα", "Address": "Διεύθυνση", "Sent to": "Παραλήπτης",
    "Accepted": "Αποδεκτή", "Declined": "Απορρίφθηκε", "No answer": "Δεν απάντησε", "Cancelled": "Ακυρώθηκε",
    "Lost (caller gone)": "Χάθηκε (ο καλών αποσυνδέθηκε)",
    "Added to a ticket": "Προστέθηκε σε αίτημα", "Quarantined": "Σε καραντίνα", "Sending": "Αποστέλλεται",
    "Sent": "Στάλθηκε", "Delivered": "Παραδόθηκε", "Given up": "Εγκαταλείφθηκε", "Not delivered": "Δεν παραδόθηκε",
    "Queued": "Σε αναμονή αποστολής", "Logged": "Καταγράφηκε", "Busy": "Κατειλημμένο",
    "Will retry": "Νέα προσπάθεια", "Reconciled": "Συμφωνήθηκε", "Sent again": "Στάλθηκε ξανά",
    "Unknown": "Άγνωστο", "Worker stopped": "Η διεργασία σταμάτησε", "Attempt": "Προσπάθεια",
    "Done": "Ολοκληρώθηκε",
    "Triggered": "Ενεργή", ("alert", "Acknowledged"): "Επιβεβαιώθηκε", ("alert", "Resolved"): "Έκλεισε",
    "Information": "Πληροφορία", "SMS": "SMS", "Voice call": "Φωνητική κλήση", "Command line": "Γραμμή εντολών",
    "Standby line": "Γραμμή εφημερίας", "SLA clock": "Ρολόι SLA",
    "Mailbox (IMAP)": "Γραμματοκιβώτιο (IMAP)", "Mail server (LMTP)": "Διακομιστής αλληλογραφίας (LMTP)",
    "Mail server (SMTP)": "Διακομιστής αλληλογραφίας (SMTP)", "Raised again": "Ενεργοποιήθηκε ξανά",
    "Escalation step": "Βήμα κλιμάκωσης", "Notification": "Ειδοποίηση", "Unreachable": "Μη προσβάσιμος",
    "Nobody reached": "Δεν βρέθηκε κανείς", "Not reached": "Δεν βρέθηκε",
    "Acknowledgement timed out": "Έληξε ο χρόνος επιβεβαίωσης", "Escalated by hand": "Χειροκίνητη κλιμάκωση",
    "Next contact method": "Επόμενος τρόπος επικοινωνίας", "Answering machine": "Τηλεφωνητής",
    "weekly": "εβδομαδιαία", "daily": "ημερήσια", "Rotation": "Βάρδια", "Staff member": "Μέλος προσωπικού",
    "Managers": "Διευθυντές",
    "Quarterly SLA report — %(company)s": "Τριμηνιαία αναφορά SLA — %(company)s",
    "Quarter %(quarter)s (%(start)s – %(end)s, %(zone)s); figures as of %(as_of)s":
        "Τρίμηνο %(quarter)s (%(start)s – %(end)s, %(zone)s)· στοιχεία έως %(as_of)s",
    "Contract: %(contract)s (%(package)s)": "Σύμβαση: %(contract)s (%(package)s)",
    "Target (h)": "Στόχος (ώ.)", "Median (h)": "Διάμεσος (ώ.)", "Worst (h)": "Χειρότερη (ώ.)",
    "Response (h)": "Απόκριση (ώ.)",
    "Share of tickets responded within target": "Ποσοστό αιτημάτων με απόκριση εντός στόχου",
    "Breaches (%(n)d)": "Παραβιάσεις (%(n)d)", "… and %(n)d more (see the CSV export).":
        "… και %(n)d ακόμη (δείτε την εξαγωγή CSV).",
    "None: every measured ticket was responded to within its target.":
        "Καμία: κάθε μετρημένο αίτημα είχε απόκριση εντός του στόχου του.",
    "Pending": "Εκκρεμεί", "From": "Έναρξη", "To": "Λήξη",
    # one word for a ticket everywhere (the calls pages said "Δελτίο")
    "Ticket": "Αίτημα", "Ticket status enquiry": "Ερώτηση κατάστασης αιτήματος",
    "round %(loop)s, step %(step)s: %(who)s": "γύρος %(loop)s, βήμα %(step)s: %(who)s",
    "%(channel)s to %(to)s (rule %(rule)s, outbox %(id)s)":
        "%(channel)s προς %(to)s (κανόνας %(rule)s, εξερχόμενο %(id)s)",
    "raised again: %(summary)s": "ενεργοποιήθηκε ξανά: %(summary)s",
    "%(source)s %(key)s; policy %(policy)s": "%(source)s %(key)s· πολιτική κλιμάκωσης: %(policy)s",
    "by %(name)s; %(n)s queued notifications dropped": "από %(name)s· ακυρώθηκαν %(n)s ειδοποιήσεις σε αναμονή",
    "by %(name)s: paging starts over": "από %(name)s: η ειδοποίηση ξεκινά από την αρχή",
    "by %(name)s": "από %(name)s", "by %(name)s: %(note)s": "από %(name)s: %(note)s",
    "outbox %(id)s": "εξερχόμενο %(id)s",
    "no escalation policy: nobody is paged": "χωρίς πολιτική κλιμάκωσης: δεν ειδοποιείται κανείς",
    "every step and repeat paged; nobody acknowledged":
        "εκτελέστηκαν όλα τα βήματα και οι επαναλήψεις· κανείς δεν επιβεβαίωσε",
    "%(name)s has no phone number": "%(name)s δεν έχει αριθμό τηλεφώνου",
    "answered by %(who)s: not counted as reached": "απάντησε: %(who)s· δεν μετράει ως επικοινωνία",
    "%(reason)s: next contact method now instead of at %(at)s":
        "%(reason)s: επόμενος τρόπος επικοινωνίας τώρα αντί για %(at)s",
    "%(reason)s: no more contact methods for this person":
        "%(reason)s: δεν υπάρχουν άλλοι τρόποι επικοινωνίας για αυτό το πρόσωπο",
    "%(channel)s %(status)s after the alert was %(alert)s, outbox %(id)s":
        "%(channel)s: %(status)s αφού η ειδοποίηση είχε γίνει %(alert)s, εξερχόμενο %(id)s",
    "acknowledged by %(name)s %(minutes)s min ago and the ticket has not moved since: paging again":
        "επιβεβαιώθηκε από %(name)s πριν από %(minutes)s λεπ. και το αίτημα δεν κινήθηκε: νέα ειδοποίηση",
    "%(reason)s, outbox %(id)s": "%(reason)s, εξερχόμενο %(id)s", "Fax": "Φαξ",
    "no acknowledgement after step %(step)s": "καμία επιβεβαίωση μετά το βήμα %(step)s",
    "Hotline call not answered for %(minutes)s min: %(subject)s":
        "Αναπάντητη κλήση γραμμής υποστήριξης για %(minutes)s λεπ.: %(subject)s",
    "Hotline call not answered for %(minutes)s min": "Αναπάντητη κλήση γραμμής υποστήριξης για %(minutes)s λεπ.",
    "SLA response deadline breached: %(subject)s": "Παραβιάστηκε η προθεσμία απόκρισης SLA: %(subject)s",
    "SLA response deadline at %(at)s: %(subject)s": "Προθεσμία απόκρισης SLA στις %(at)s: %(subject)s",
}
