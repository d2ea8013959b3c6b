"""Hungarian and Greek strings of the console's customer portal, composer, queue, pager, desk and
error pages (issue 12), merged into the catalogs by `build.py` after catalog_source.py."""

HU = {
    # customer portal
    "Asked": "Kérve", "Comment (optional)": "Megjegyzés (nem kötelező)",
    "Your company's authorised person decides this request.": "A kérésről cége jogosult képviselője dönt.",
    "Your calls to the hotline": "Hívásai a hotline-ra", "Result": "Eredmény", "No calls yet.": "Még nincs hívás.",
    "Your tickets": "Bejelentései", "Report a problem": "Hiba bejelentése",
    "Waiting for your approval": "Jóváhagyására vár", "Last change": "Utolsó változás",
    "No tickets yet.": "Még nincs bejelentés.", "Conversation": "Üzenetek", "Help desk": "Ügyfélszolgálat",
    "Write to the help desk": "Írjon az ügyfélszolgálatnak", "Your message": "Üzenete",
    "Files (up to 5, %(mb)d MB each)": "Fájlok (legfeljebb 5, egyenként %(mb)d MB)", "Details": "Adatok",
    "Response due by": "Reakció határideje", "customer sees this": "az ügyfél látja",
    "e-mailed to the customer and shown in the portal": "az ügyfél e-mailben megkapja és a portálon látja",
    "internal: never shown to the customer": "belső: az ügyfél sosem látja",
    "shown to the customer in the portal": "az ügyfél a portálon látja",
    "Reopened": "Újranyitva", "Solved": "Megoldva", "Refused": "Elutasítva", "Duplicate": "Duplikátum",
    "Waiting for your reply": "Válaszára vár", "Received": "Átvéve",
    "On-call engineer alerted": "Ügyeletes mérnök riasztva", "Message left": "Üzenetet hagyott",
    "Status enquiry": "Állapot-érdeklődés", "Asked to write (permission change)": "Írásban kérve (jogosultság)",
    "Passed to Sales": "Értékesítéshez irányítva", "Critical fault reported": "Kritikus hiba bejelentve",
    "Not answered": "Nem fogadott", "Your calls": "Hívásai",
    "Your message was not sent: %(reason)s": "Üzenete nem ment el: %(reason)s",
    "Your message was added to ticket %(number)s.": "Üzenetét a(z) %(number)s jegyhez csatoltuk.",
    "Choose Approve or Deny.": "Válasszon: Jóváhagyom vagy Elutasítom.",
    "Thank you: the request on ticket %(number)s is %(decision)s.":
        "Köszönjük: a(z) %(number)s jegy kérése %(decision)s.",
    "approved": "jóváhagyva", "denied": "elutasítva",
}

EL = {
    "Asked": "Ζητήθηκε", "Comment (optional)": "Σχόλιο (προαιρετικό)",
    "Your company's authorised person decides this request.":
        "Για το αίτημα αποφασίζει το εξουσιοδοτημένο πρόσωπο της εταιρείας σας.",
    "Your calls to the hotline": "Οι κλήσεις σας στη γραμμή υποστήριξης", "Result": "Αποτέλεσμα",
    "No calls yet.": "Καμία κλήση ακόμη.", "Your tickets": "Τα αιτήματά σας", "Report a problem": "Αναφορά προβλήματος",
    "Waiting for your approval": "Αναμένουν την έγκρισή σας", "Last change": "Τελευταία αλλαγή",
    "No tickets yet.": "Κανένα αίτημα ακόμη.", "Conversation": "Συνομιλία", "Help desk": "Υποστήριξη",
    "Write to the help desk": "Γράψτε στην υποστήριξη", "Your message": "Το μήνυμά σας",
    "Files (up to 5, %(mb)d MB each)": "Αρχεία (έως 5, %(mb)d MB το καθένα)", "Details": "Στοιχεία",
    "Response due by": "Προθεσμία απόκρισης", "customer sees this": "το βλέπει ο πελάτης",
    "e-mailed to the customer and shown in the portal": "στέλνεται στον πελάτη με e-mail και φαίνεται στην πύλη",
    "internal: never shown to the customer": "εσωτερικό: δεν φαίνεται ποτέ στον πελάτη",
    "shown to the customer in the portal": "φαίνεται στον πελάτη στην πύλη",
    "Reopened": "Άνοιξε ξανά", "Solved": "Επιλύθηκε", "Refused": "Απορρίφθηκε", "Duplicate": "Διπλότυπο",
    "Waiting for your reply": "Αναμένει την απάντησή σας", "Received": "Παραλήφθηκε",
    "On-call engineer alerted": "Ειδοποιήθηκε ο εφημερεύων μηχανικός", "Message left": "Αφέθηκε μήνυμα",
    "Status enquiry": "Ερώτηση κατάστασης", "Asked to write (permission change)": "Ζητήθηκε γραπτώς (δικαιώματα)",
    "Passed to Sales": "Προωθήθηκε στις πωλήσεις", "Critical fault reported": "Αναφέρθηκε κρίσιμη βλάβη",
    "Not answered": "Αναπάντητη", "Your calls": "Οι κλήσεις σας",
    "Your message was not sent: %(reason)s": "Το μήνυμά σας δεν στάλθηκε: %(reason)s",
    "Your message was added to ticket %(number)s.": "Το μήνυμά σας προστέθηκε στο αίτημα %(number)s.",
    "Choose Approve or Deny.": "Επιλέξτε Έγκριση ή Απόρριψη.",
    "Thank you: the request on ticket %(number)s is %(decision)s.":
        "Ευχαριστούμε: το αίτημα του %(number)s %(decision)s.",
    "approved": "εγκρίθηκε", "denied": "απορρίφθηκε",
}
