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
    "Sent": "Elküldve", "Delivered": "Kézbesítve", "Given up": "Feladva", "Not delivered": "Nem kézbesíthető",
    "Queued": "Sorban áll", "Logged": "Naplózva", "Busy": "Foglalt", "Will retry": "Újrapróbálja",
    "Reconciled": "Egyeztetve", "Sent again": "Újraküldve", "Unknown": "Ismeretlen",
    "Worker stopped": "A feldolgozó leállt", "Attempt": "Kísérlet", "Done": "Kész",
    # paging
    "Triggered": "Riaszt", ("alert", "Acknowledged"): "Nyugtázva", ("alert", "Resolved"): "Lezárva",
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
}
