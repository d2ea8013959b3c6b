"""Outbound mail texts in Hungarian, Greek and English, chosen by the contact's language."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "auto_subject": "[#{number}] Ticket opened: {subject}",
        "auto_body": ("Dear {name},\n\nwe have registered your request as ticket #{number}.\n\n"
                      "Subject: {subject}\nCategory: {category}\nPriority: {priority}\n"
                      "Response due by: {due}\n\n"
                      "To add information, reply to this e-mail and keep [#{number}] in the subject.\n"
                      "Urgent, critical faults: please call the hotline.\n\nHotline help desk"),
        "phase_subject": "[#{number}] {what}: {subject}",
        "phase_body": ("Dear {name},\n\nticket #{number} ({subject}) has been updated.\n\n"
                       "What was done: {what}\n{changes}{note}\n"
                       "Reply to this e-mail and keep [#{number}] in the subject.\n\nHotline help desk"),
        "approval_subject": "[#{number}] Your approval is needed: {subject}",
        "approval_body": ("Dear {name},\n\n{reporter} asked for the following, which needs your written "
                          "approval as the authorised contact of {company}:\n\n{summary}\n\n"
                          "Reply to this e-mail with APPROVE or DENY on the first line.\n\nHotline help desk"),
        "decided_subject": "[#{number}] Request {decision}: {subject}",
        "decided_body": ("Dear {name},\n\nthe request in ticket #{number} ({subject}) was {decision} by "
                         "{decided_by}.\n\nHotline help desk"),
        "approved": "approved", "denied": "denied", "changed": "Changed", "none": "not set",
        "no_due": "no response target in the contract",
    },
    "hu": {
        "auto_subject": "[#{number}] Bejelentés rögzítve: {subject}",
        "auto_body": ("Kedves {name}!\n\nKérését #{number} számon rögzítettük.\n\n"
                      "Tárgy: {subject}\nKategória: {category}\nPrioritás: {priority}\n"
                      "Válaszidő határideje: {due}\n\n"
                      "Kiegészítéshez válaszoljon erre a levélre, és a tárgyban hagyja meg a [#{number}] jelölést.\n"
                      "Sürgős, kritikus hiba esetén hívja a hotline-t.\n\nHotline ügyfélszolgálat"),
        "phase_subject": "[#{number}] {what}: {subject}",
        "phase_body": ("Kedves {name}!\n\nA #{number} számú bejelentés ({subject}) módosult.\n\n"
                       "Mi történt: {what}\n{changes}{note}\n"
                       "Válaszoljon erre a levélre, a tárgyban hagyja meg a [#{number}] jelölést.\n\n"
                       "Hotline ügyfélszolgálat"),
        "approval_subject": "[#{number}] Jóváhagyása szükséges: {subject}",
        "approval_body": ("Kedves {name}!\n\n{reporter} az alábbiakat kérte, amihez a(z) {company} "
                          "jogosult kapcsolattartójaként az Ön írásos jóváhagyása szükséges:\n\n{summary}\n\n"
                          "Válaszoljon erre a levélre, az első sorba írja: JÓVÁHAGYOM vagy ELUTASÍTOM.\n\n"
                          "Hotline ügyfélszolgálat"),
        "decided_subject": "[#{number}] Kérés {decision}: {subject}",
        "decided_body": ("Kedves {name}!\n\nA #{number} számú bejelentés ({subject}) kérését {decided_by} "
                         "{decision}.\n\nHotline ügyfélszolgálat"),
        "approved": "jóváhagyva", "denied": "elutasítva", "changed": "Változás", "none": "nincs",
        "no_due": "a szerződés nem ír elő válaszidőt",
    },
    "el": {
        "auto_subject": "[#{number}] Καταχώριση αιτήματος: {subject}",
        "auto_body": ("Αγαπητέ/ή {name},\n\nκαταχωρίσαμε το αίτημά σας με αριθμό #{number}.\n\n"
                      "Θέμα: {subject}\nΚατηγορία: {category}\nΠροτεραιότητα: {priority}\n"
                      "Προθεσμία απόκρισης: {due}\n\n"
                      "Για συμπληρώσεις απαντήστε σε αυτό το μήνυμα κρατώντας το [#{number}] στο θέμα.\n"
                      "Για επείγουσες, κρίσιμες βλάβες καλέστε τη γραμμή υποστήριξης.\n\nHotline υποστήριξη"),
        "phase_subject": "[#{number}] {what}: {subject}",
        "phase_body": ("Αγαπητέ/ή {name},\n\nτο αίτημα #{number} ({subject}) ενημερώθηκε.\n\n"
                       "Τι έγινε: {what}\n{changes}{note}\n"
                       "Απαντήστε σε αυτό το μήνυμα κρατώντας το [#{number}] στο θέμα.\n\nHotline υποστήριξη"),
        "approval_subject": "[#{number}] Απαιτείται η έγκρισή σας: {subject}",
        "approval_body": ("Αγαπητέ/ή {name},\n\nο/η {reporter} ζήτησε τα παρακάτω, που απαιτούν τη γραπτή σας "
                          "έγκριση ως εξουσιοδοτημένου προσώπου της {company}:\n\n{summary}\n\n"
                          "Απαντήστε με ΕΓΚΡΙΝΩ ή ΑΠΟΡΡΙΠΤΩ στην πρώτη γραμμή.\n\nHotline υποστήριξη"),
        "decided_subject": "[#{number}] Το αίτημα {decision}: {subject}",
        "decided_body": ("Αγαπητέ/ή {name},\n\nτο αίτημα του #{number} ({subject}) {decision} από "
                         "{decided_by}.\n\nHotline υποστήριξη"),
        "approved": "εγκρίθηκε", "denied": "απορρίφθηκε", "changed": "Αλλαγή", "none": "κανένα",
        "no_due": "χωρίς χρόνο απόκρισης στη σύμβαση",
    },
}

WHAT: dict[str, dict[str, str]] = {
    "en": {"status": "Status changed", "reopened": "Ticket reopened", "assigned": "Assigned",
           "escalated": "Escalated", "de-escalated": "Returned to a lower level", "note": "New message",
           "updated": "Details changed", "resolved": "Resolved", "closed": "Closed"},
    "hu": {"status": "Állapotváltozás", "reopened": "Újranyitva", "assigned": "Felelős kijelölve",
           "escalated": "Eszkalálva", "de-escalated": "Alacsonyabb szintre visszaadva", "note": "Új üzenet",
           "updated": "Adatok módosultak", "resolved": "Megoldva", "closed": "Lezárva"},
    "el": {"status": "Αλλαγή κατάστασης", "reopened": "Επανάνοιγμα", "assigned": "Ανάθεση",
           "escalated": "Κλιμάκωση", "de-escalated": "Επιστροφή σε χαμηλότερο επίπεδο", "note": "Νέο μήνυμα",
           "updated": "Αλλαγή στοιχείων", "resolved": "Επιλύθηκε", "closed": "Έκλεισε"},
}

LABELS: dict[str, dict[str, str]] = {
    "en": {"new": "new", "acknowledged": "acknowledged", "in_progress": "in progress",
           "waiting_customer": "waiting for you", "waiting_approval": "waiting for approval",
           "resolved": "resolved", "closed": "closed", "user": "user problem", "system": "system-level problem",
           "infrastructure": "infrastructure problem", "request": "request", "permission_change": "permission change",
           "device_order": "device order", "complaint": "complaint", "quote": "quote", "project": "project",
           "critical": "critical", "high": "high", "normal": "normal", "low": "low",
           "L1": "help desk (L1)", "L2": "technical support (L2)", "L3": "technical support (L3)",
           "onsite": "on-site team", "status": "status", "level": "level", "assignee": "engineer",
           "resolution": "outcome", "priority": "priority", "category": "category", "subject": "subject",
           "solved": "solved", "sales": "passed to Sales", "refused": "refused", "duplicate": "duplicate"},
    "hu": {"new": "új", "acknowledged": "átvéve", "in_progress": "folyamatban", "waiting_customer": "Önre vár",
           "waiting_approval": "jóváhagyásra vár", "resolved": "megoldva", "closed": "lezárva",
           "user": "felhasználói probléma", "system": "rendszerszintű probléma",
           "infrastructure": "infrastruktúra-probléma", "request": "kérés",
           "permission_change": "jogosultság-módosítás",
           "device_order": "eszközrendelés", "complaint": "panasz", "quote": "árajánlat", "project": "projekt",
           "critical": "kritikus", "high": "magas", "normal": "normál", "low": "alacsony",
           "L1": "ügyfélszolgálat (L1)", "L2": "technikai támogatás (L2)", "L3": "technikai támogatás (L3)",
           "onsite": "helyszíni csapat", "status": "állapot", "level": "szint", "assignee": "felelős",
           "resolution": "eredmény", "priority": "prioritás", "category": "kategória", "subject": "tárgy",
           "solved": "megoldva", "sales": "értékesítésnek átadva", "refused": "elutasítva", "duplicate": "duplikátum"},
    "el": {"new": "νέο", "acknowledged": "παραλήφθηκε", "in_progress": "σε εξέλιξη",
           "waiting_customer": "αναμονή για εσάς", "waiting_approval": "αναμονή έγκρισης", "resolved": "επιλύθηκε",
           "closed": "έκλεισε", "user": "πρόβλημα χρήστη", "system": "πρόβλημα συστήματος",
           "infrastructure": "πρόβλημα υποδομής", "request": "αίτημα", "permission_change": "αλλαγή δικαιωμάτων",
           "device_order": "παραγγελία συσκευής", "complaint": "παράπονο", "quote": "προσφορά", "project": "έργο",
           "critical": "κρίσιμη", "high": "υψηλή", "normal": "κανονική", "low": "χαμηλή",
           "L1": "γραφείο υποστήριξης (L1)", "L2": "τεχνική υποστήριξη (L2)", "L3": "τεχνική υποστήριξη (L3)",
           "onsite": "ομάδα επί τόπου", "status": "κατάσταση", "level": "επίπεδο", "assignee": "υπεύθυνος",
           "resolution": "αποτέλεσμα", "priority": "προτεραιότητα", "category": "κατηγορία", "subject": "θέμα",
           "solved": "επιλύθηκε", "sales": "προωθήθηκε στις πωλήσεις", "refused": "απορρίφθηκε",
           "duplicate": "διπλότυπο"},
}


def language(code: str | None, default: str = "en") -> str:
    code = (code or "").lower()[:2]
    return code if code in TEXTS else (default if default in TEXTS else "en")


def text(lang: str, key: str, **values: object) -> str:
    return TEXTS[lang][key].format(**values)


def label(lang: str, value: object) -> str:
    if value is None:
        return TEXTS[lang]["none"]
    return LABELS[lang].get(str(value), str(value))
