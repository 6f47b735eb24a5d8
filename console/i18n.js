// English and French catalogues, money from minor units with Intl.NumberFormat, dates with
// Intl.DateTimeFormat. The locale is the account's (summary.locale) until the person picks another
// one in the header; that choice is remembered in this browser (localStorage, not a secret).

const en = {
  "app.name": "Billing console",
  "app.skip": "Skip to content",
  "app.loading": "Loading…",
  "app.language": "Language",
  "app.signOut": "Sign out",
  "app.account": "Account {name} (no. {number})",
  "app.switchAccount": "Switch account",
  "app.notFound": "This page does not exist.",
  "nav.label": "Billing",
  "nav.overview": "Overview",
  "nav.invoices": "Invoices",
  "nav.pay": "Make a payment",
  "nav.paymentMethod": "Payment method",
  "nav.items": "Billing items",
  "nav.usage": "Usage",
  "nav.support": "Support",
  "nav.upgrade": "Upgrade",
  "error.network": "billow could not be reached. Check your connection and try again: the same request is sent again, nothing is done twice.",
  "error.generic": "Something went wrong ({code}).",
  "error.fields": "Check: {fields}",
  "common.apply": "Apply",
  "common.cancel": "Cancel",
  "common.close": "Close",
  "common.save": "Save",
  "common.delete": "Delete",
  "common.next": "Next page",
  "common.pages": "Pages",
  "common.previous": "Previous page",
  "common.none": "None",
  "common.all": "All",
  "common.tryAgain": "Try again",
  "common.downloadCsv": "Download CSV",
  "common.empty": "Nothing to show.",
  "common.yes": "Yes",
  "common.no": "No",
  "signin.title": "Sign in",
  "signin.intro": "Sign in to see your balance, invoices and billing items.",
  "signin.cognito": "Sign in",
  "signin.local": "Sign in with a token",
  "signin.token": "Access token",
  "signin.account": "Account id",
  "signin.accountHint": "Starts with acct_. The link you received names it.",
  "signin.submit": "Sign in",
  "signin.demo": "Demo users",
  "signin.again": "Your session ended. Sign in again to continue.",
  "signin.failed": "Sign-in failed: {detail}",
  "signin.completing": "Completing sign-in…",
  "overview.title": "Overview",
  "overview.balance": "Current balance",
  "overview.credit": "in credit",
  "overview.unapplied": "Unapplied credit",
  "overview.nextEstimated": "Next invoice (estimated)",
  "overview.paymentMethod": "Payment method",
  "overview.lastRecurring": "Last recurring invoice",
  "overview.nextRecurring": "Next recurring invoice",
  "overview.pastDue": "Your account is past due. Pay the open balance to avoid an interruption.",
  "overview.payNow": "Pay now",
  "overview.changeCard": "Change the card",
  "overview.addCard": "Add a card",
  "overview.noCard": "No card on file",
  "overview.invoicePayment": "By invoice, due {days} days after issue",
  "overview.seeInvoices": "See invoices",
  "overview.closing": "This account is {status}.",
  "card.label": "{brand} ending in {last4}, expires {month}/{year}",
  "card.status.active": "active",
  "card.status.expired": "expired",
  "invoices.title": "Invoices",
  "invoices.filters": "Filter invoices",
  "invoices.type": "Type",
  "invoices.status": "Status",
  "invoices.from": "From",
  "invoices.to": "To",
  "invoices.number": "Number",
  "invoices.date": "Date",
  "invoices.total": "Total",
  "invoices.paid": "Paid",
  "invoices.balanceDue": "Balance due",
  "invoices.dueDate": "Due date",
  "invoices.list": "Invoice list",
  "invoices.open": "Open invoice {number}",
  "invoices.pastDue": "past due",
  "invoices.carried": "carried forward",
  "invoice.type.new": "New",
  "invoice.type.recurring": "Recurring",
  "invoice.type.one_time": "One-time",
  "invoice.type.credit": "Credit",
  "invoice.type.refund": "Refund",
  "invoice.status.open": "Open",
  "invoice.status.closed": "Closed",
  "invoice.title": "Invoice {number}",
  "invoice.back": "Back to invoices",
  "invoice.period": "Period",
  "invoice.description": "Description",
  "invoice.lines": "Lines",
  "invoice.quantity": "Quantity",
  "invoice.unit": "Unit price",
  "invoice.amount": "Amount",
  "invoice.subtotal": "Subtotal",
  "invoice.applied": "Payments and credits applied",
  "invoice.source": "Source",
  "invoice.at": "When",
  "invoice.pdf": "Download PDF",
  "invoice.preparing": "Preparing the PDF…",
  "invoice.csv": "Download CSV",
  "invoice.pay": "Pay this invoice",
  "invoice.downloading": "Your download has started.",
  "pay.title": "Make a payment",
  "pay.intro": "Pay all or part of your balance. Card details go to the payment processor, never to billow, and are not kept.",
  "pay.balance": "Balance",
  "pay.forInvoice": "Paying invoice {number} (balance due {amount})",
  "pay.amountChoice": "Amount",
  "pay.full": "Full balance ({amount})",
  "pay.other": "Another amount",
  "pay.amount": "Amount to pay ({currency})",
  "pay.amountHint": "For example {example}",
  "pay.amountInvalid": "Enter an amount greater than zero, at most {max}.",
  "pay.method": "Payment method",
  "pay.cardOnFile": "Card on file: {card}",
  "pay.newCard": "Another card",
  "pay.paypal": "PayPal",
  "pay.cardholder": "Name on the card",
  "pay.card": "Card",
  "pay.submitCard": "Pay by card",
  "pay.submitPaypal": "Continue to PayPal",
  "pay.working": "Processing your payment…",
  "pay.authenticating": "Your bank asks you to confirm this payment.",
  "pay.succeeded": "Payment of {amount} accepted. New balance: {balance}.",
  "pay.processing": "Payment of {amount} is being processed. Your balance changes once it is accepted.",
  "pay.failed": "The payment failed: {reason}",
  "pay.nothingDue": "Nothing is due: your balance is {balance}.",
  "pay.support": "Open a support ticket about this payment",
  "pay.redirecting": "Taking you to PayPal…",
  "pay.returnTitle": "PayPal payment",
  "pay.returnWaiting": "Checking your PayPal payment…",
  "pay.returnCancelled": "The PayPal payment was cancelled or refused. Nothing was charged.",
  "pay.returnUnknown": "No PayPal payment is waiting in this browser.",
  "pay.back": "Back to the overview",
  "payment.title": "Payment",
  "payment.confirm": "Confirm the payment",
  "payment.card": "{brand} card ending in {last4}",
  "payment.status.processing": "processing",
  "payment.status.requires_action": "waiting for your confirmation",
  "payment.status.succeeded": "succeeded",
  "payment.status.failed": "failed",
  "payment.status.held": "on hold",
  "pm.title": "Payment method",
  "pm.current": "Card on file",
  "pm.none": "No card is on file.",
  "pm.holder": "Billing contact",
  "pm.pending": "A new card ({card}) is being validated.",
  "pm.failed": "The last card change failed ({card}): {message}",
  "pm.change": "Change the card",
  "pm.add": "Add a card",
  "pm.intro": "Enter the card and its billing address. It is validated within 24 hours (usually seconds) and a confirmation is e-mailed to the billing contact.",
  "pm.submit": "Save the card",
  "pm.status": "Status: {status}",
  "pm.status.pending_validation": "pending validation",
  "pm.status.active": "active",
  "pm.status.failed": "failed",
  "pm.status.expired": "expired",
  "pm.working": "Saving your card…",
  "pm.done": "Your new card {card} is active.",
  "pm.stillPending": "Your card is still being validated; this page updates when it is done.",
  "pm.sendInvoice": "This account pays by invoice ({days} days). A card is optional.",
  "contact.name": "Full name",
  "contact.email": "E-mail",
  "contact.line1": "Address",
  "contact.line2": "Address (line 2, optional)",
  "contact.city": "City",
  "contact.state": "State or region (optional)",
  "contact.postal": "Postal code",
  "contact.country": "Country (2 letters)",
  "contact.legend": "Billing address",
  "items.title": "Billing items",
  "items.filters": "Filter billing items",
  "items.view": "View",
  "items.view.associated": "Associated with a device",
  "items.view.dissociated": "Not associated",
  "items.view.all": "All items",
  "items.device": "Device",
  "items.anyDevice": "Any device",
  "items.status": "Status",
  "items.category": "Category",
  "items.description": "Description",
  "items.fee": "Monthly fee",
  "items.actions": "Actions",
  "items.select": "Select {name}",
  "items.selectAll": "Select every item on this page",
  "items.status.active": "Active",
  "items.status.pending_cancellation": "Cancels on {date}",
  "items.status.cancelled": "Cancelled",
  "items.associate": "Associate",
  "items.associateName": "Associate {name} with a device",
  "items.dissociate": "Dissociate",
  "items.dissociateName": "Dissociate {name} from its device",
  "items.cancel": "Cancel",
  "items.cancelName": "Cancel {name}",
  "items.undo": "Undo cancellation",
  "items.undoName": "Undo the cancellation of {name}",
  "items.cancelTitle": "Cancel {name}",
  "items.when": "When",
  "items.when.now": "Now (the unused part is refunded)",
  "items.when.anniversary": "At the end of the billing period",
  "items.reason": "Reason (optional)",
  "items.confirmCancel": "Cancel the item",
  "items.associateTitle": "Associate {name}",
  "items.bulk": "Bulk actions",
  "items.selected": "{count} selected",
  "items.bulkDevice": "Device for the selected items",
  "items.bulkAssociate": "Associate selected",
  "items.bulkDissociate": "Dissociate selected",
  "items.bulkResult": "{ok} of {total} items updated.",
  "items.bulkFailed": "{item}: {error}",
  "items.associated": "{name} is now associated with {device}.",
  "items.dissociatedDone": "{name} is no longer associated with a device.",
  "items.cancelledNow": "{name} is cancelled; {amount} refunded.",
  "items.cancelScheduled": "{name} will be cancelled on {date}.",
  "items.undone": "The cancellation of {name} is undone.",
  "items.noSelection": "Select at least one item.",
  "items.noDevice": "Choose a device.",
  "usage.title": "Usage",
  "usage.filters": "Usage options",
  "usage.period": "Period",
  "usage.current": "Current period",
  "usage.groupBy": "Group by",
  "usage.by.service": "Service",
  "usage.by.metric": "Metric",
  "usage.by.device": "Device",
  "usage.by.day": "Day",
  "usage.service": "Service",
  "usage.metric": "Metric",
  "usage.device": "Device",
  "usage.day": "Day",
  "usage.quantity": "Quantity",
  "usage.included": "Included",
  "usage.billable": "Billable",
  "usage.amount": "Amount",
  "usage.total": "Total",
  "usage.table": "Usage from {start} to {end}",
  "usage.noDevice": "No device",
  "budget.title": "Monthly budget",
  "budget.none": "No budget is set.",
  "budget.amountIs": "Budget: {amount}",
  "budget.estimate": "This period so far (estimated): {amount}",
  "budget.thresholdsAre": "Alerts at {list} %",
  "budget.crossed": "Thresholds crossed this period: {list} %",
  "budget.amount": "Budget amount ({currency})",
  "budget.thresholds": "Alert thresholds (percent, separated by commas)",
  "budget.save": "Save the budget",
  "budget.delete": "Delete the budget",
  "budget.saved": "Budget saved.",
  "budget.deleted": "Budget deleted.",
  "budget.invalidThresholds": "Enter whole percentages between 1 and 1000, separated by commas.",
  "support.title": "Support",
  "support.new": "Open a ticket",
  "support.subject": "Subject",
  "support.message": "Message",
  "support.invoice": "Invoice id (optional)",
  "support.payment": "Payment id (optional)",
  "support.submit": "Send the ticket",
  "support.opened": "Ticket {id} opened. We will answer by e-mail.",
  "support.list": "Your tickets",
  "support.created": "Opened",
  "support.status": "Status",
  "upgrade.title": "Upgrade your account",
  "upgrade.intro": "Your Lite account is free and has no billing. Add a card and a billing address to upgrade it to a pay-as-you-go account and use billable services.",
  "upgrade.submit": "Upgrade",
  "upgrade.working": "Validating your card…",
  "upgrade.pending": "Your upgrade is waiting for the card's validation.",
  "upgrade.completed": "Your account is upgraded.",
  "upgrade.failed": "The upgrade failed ({code}).",
  "upgrade.noBilling": "Billing options appear here once the account is upgraded.",
};

const fr = {
  "app.name": "Console de facturation",
  "app.skip": "Aller au contenu",
  "app.loading": "Chargement…",
  "app.language": "Langue",
  "app.signOut": "Se déconnecter",
  "app.account": "Compte {name} (n° {number})",
  "app.switchAccount": "Changer de compte",
  "app.notFound": "Cette page n'existe pas.",
  "nav.label": "Facturation",
  "nav.overview": "Récapitulatif",
  "nav.invoices": "Factures",
  "nav.pay": "Effectuer un paiement",
  "nav.paymentMethod": "Méthode de paiement",
  "nav.items": "Éléments de facturation",
  "nav.usage": "Utilisation",
  "nav.support": "Support",
  "nav.upgrade": "Mettre à niveau",
  "error.network": "billow est injoignable. Vérifiez votre connexion et réessayez : la même demande est renvoyée, rien n'est fait deux fois.",
  "error.generic": "Une erreur est survenue ({code}).",
  "error.fields": "Vérifiez : {fields}",
  "common.apply": "Appliquer",
  "common.cancel": "Annuler",
  "common.close": "Fermer",
  "common.save": "Enregistrer",
  "common.delete": "Supprimer",
  "common.next": "Page suivante",
  "common.pages": "Pages",
  "common.previous": "Page précédente",
  "common.none": "Aucun",
  "common.all": "Tous",
  "common.tryAgain": "Réessayer",
  "common.downloadCsv": "Télécharger en CSV",
  "common.empty": "Rien à afficher.",
  "common.yes": "Oui",
  "common.no": "Non",
  "signin.title": "Connexion",
  "signin.intro": "Connectez-vous pour voir votre solde, vos factures et vos éléments de facturation.",
  "signin.cognito": "Se connecter",
  "signin.local": "Se connecter avec un jeton",
  "signin.token": "Jeton d'accès",
  "signin.account": "Identifiant du compte",
  "signin.accountHint": "Commence par acct_. Le lien que vous avez reçu l'indique.",
  "signin.submit": "Se connecter",
  "signin.demo": "Utilisateurs de démonstration",
  "signin.again": "Votre session a pris fin. Reconnectez-vous pour continuer.",
  "signin.failed": "Échec de la connexion : {detail}",
  "signin.completing": "Connexion en cours…",
  "overview.title": "Récapitulatif",
  "overview.balance": "Solde en cours",
  "overview.credit": "créditeur",
  "overview.unapplied": "Crédit non imputé",
  "overview.nextEstimated": "Prochain solde estimé",
  "overview.paymentMethod": "Méthode de paiement",
  "overview.lastRecurring": "Dernière facture récurrente",
  "overview.nextRecurring": "Prochaine facture récurrente",
  "overview.pastDue": "Votre compte présente un retard de paiement. Réglez le solde pour éviter une interruption.",
  "overview.payNow": "Payer maintenant",
  "overview.changeCard": "Changer de carte",
  "overview.addCard": "Ajouter une carte",
  "overview.noCard": "Aucune carte enregistrée",
  "overview.invoicePayment": "Sur facture, payable {days} jours après émission",
  "overview.seeInvoices": "Voir les factures",
  "overview.closing": "Ce compte est {status}.",
  "card.label": "{brand} se terminant par {last4}, expire {month}/{year}",
  "card.status.active": "active",
  "card.status.expired": "expirée",
  "invoices.title": "Factures",
  "invoices.filters": "Filtrer les factures",
  "invoices.type": "Type",
  "invoices.status": "Statut",
  "invoices.from": "Du",
  "invoices.to": "Au",
  "invoices.number": "Numéro",
  "invoices.date": "Date",
  "invoices.total": "Total",
  "invoices.paid": "Réglé",
  "invoices.balanceDue": "Reste dû",
  "invoices.dueDate": "Échéance",
  "invoices.list": "Liste des factures",
  "invoices.open": "Ouvrir la facture {number}",
  "invoices.pastDue": "en retard",
  "invoices.carried": "reportée",
  "invoice.type.new": "Nouveau",
  "invoice.type.recurring": "Récurrent",
  "invoice.type.one_time": "Frais ponctuels",
  "invoice.type.credit": "Crédit",
  "invoice.type.refund": "Remboursement",
  "invoice.status.open": "Ouverte",
  "invoice.status.closed": "Soldée",
  "invoice.title": "Facture {number}",
  "invoice.back": "Retour aux factures",
  "invoice.period": "Période",
  "invoice.description": "Description",
  "invoice.lines": "Lignes",
  "invoice.quantity": "Quantité",
  "invoice.unit": "Prix unitaire",
  "invoice.amount": "Montant",
  "invoice.subtotal": "Sous-total",
  "invoice.applied": "Paiements et crédits imputés",
  "invoice.source": "Origine",
  "invoice.at": "Date",
  "invoice.pdf": "Télécharger le PDF",
  "invoice.preparing": "Préparation du PDF…",
  "invoice.csv": "Télécharger en CSV",
  "invoice.pay": "Régler cette facture",
  "invoice.downloading": "Le téléchargement a commencé.",
  "pay.title": "Effectuer un paiement",
  "pay.intro": "Réglez tout ou partie de votre solde. Les détails de votre carte sont transmis au prestataire de paiement, jamais à billow, et ne sont pas enregistrés.",
  "pay.balance": "Solde",
  "pay.forInvoice": "Règlement de la facture {number} (reste dû {amount})",
  "pay.amountChoice": "Montant",
  "pay.full": "Solde total ({amount})",
  "pay.other": "Montant partiel",
  "pay.amount": "Montant du règlement ({currency})",
  "pay.amountHint": "Par exemple {example}",
  "pay.amountInvalid": "Entrez un montant supérieur à zéro, au plus {max}.",
  "pay.method": "Méthode de paiement",
  "pay.cardOnFile": "Carte enregistrée : {card}",
  "pay.newCard": "Une autre carte",
  "pay.paypal": "PayPal",
  "pay.cardholder": "Nom du titulaire de la carte",
  "pay.card": "Carte",
  "pay.submitCard": "Effectuer un règlement par carte de crédit",
  "pay.submitPaypal": "Continuer vers PayPal",
  "pay.working": "Paiement en cours…",
  "pay.authenticating": "Votre banque vous demande de confirmer ce paiement.",
  "pay.succeeded": "Paiement de {amount} accepté. Nouveau solde : {balance}.",
  "pay.processing": "Le paiement de {amount} est en cours de traitement. Votre solde sera mis à jour une fois le paiement accepté.",
  "pay.failed": "Le paiement a échoué : {reason}",
  "pay.nothingDue": "Aucun montant n'est dû : votre solde est de {balance}.",
  "pay.support": "Ouvrir un ticket de support sur ce paiement",
  "pay.redirecting": "Redirection vers PayPal…",
  "pay.returnTitle": "Paiement PayPal",
  "pay.returnWaiting": "Vérification de votre paiement PayPal…",
  "pay.returnCancelled": "Le paiement PayPal a été annulé ou refusé. Rien n'a été débité.",
  "pay.returnUnknown": "Aucun paiement PayPal n'est en attente dans ce navigateur.",
  "pay.back": "Retour au récapitulatif",
  "payment.title": "Paiement",
  "payment.confirm": "Confirmer le paiement",
  "payment.card": "carte {brand} se terminant par {last4}",
  "payment.status.processing": "en cours",
  "payment.status.requires_action": "en attente de votre confirmation",
  "payment.status.succeeded": "accepté",
  "payment.status.failed": "échoué",
  "payment.status.held": "suspendu",
  "pm.title": "Méthode de paiement",
  "pm.current": "Carte enregistrée",
  "pm.none": "Aucune carte n'est enregistrée.",
  "pm.holder": "Contact de facturation",
  "pm.pending": "Une nouvelle carte ({card}) est en cours de validation.",
  "pm.failed": "Le dernier changement de carte a échoué ({card}) : {message}",
  "pm.change": "Modifier la méthode de paiement",
  "pm.add": "Ajouter une carte de crédit",
  "pm.intro": "Entrez les détails de votre carte ainsi que l'adresse de facturation de la carte. Votre carte est validée sous 24 heures (en général quelques secondes) et un courrier électronique de confirmation est envoyé au contact de facturation.",
  "pm.submit": "Ajouter une carte de crédit",
  "pm.status": "Statut : {status}",
  "pm.status.pending_validation": "validation en cours",
  "pm.status.active": "active",
  "pm.status.failed": "échec",
  "pm.status.expired": "expirée",
  "pm.working": "Enregistrement de votre carte…",
  "pm.done": "Votre nouvelle carte {card} est active.",
  "pm.stillPending": "Votre carte est toujours en cours de validation ; cette page se met à jour dès que c'est fait.",
  "pm.sendInvoice": "Ce compte paie sur facture ({days} jours). Une carte est facultative.",
  "contact.name": "Nom complet",
  "contact.email": "Adresse électronique",
  "contact.line1": "Adresse",
  "contact.line2": "Adresse (ligne 2, facultatif)",
  "contact.city": "Ville",
  "contact.state": "État ou région (facultatif)",
  "contact.postal": "Code postal",
  "contact.country": "Pays (2 lettres)",
  "contact.legend": "Adresse de facturation",
  "items.title": "Éléments de facturation",
  "items.filters": "Filtrer les éléments de facturation",
  "items.view": "Affichage",
  "items.view.associated": "Associés à un terminal",
  "items.view.dissociated": "Dissociés",
  "items.view.all": "Tous les éléments",
  "items.device": "Terminal",
  "items.anyDevice": "Tous les terminaux",
  "items.status": "Statut",
  "items.category": "Catégorie",
  "items.description": "Description",
  "items.fee": "Frais mensuels",
  "items.actions": "Actions",
  "items.select": "Sélectionner {name}",
  "items.selectAll": "Sélectionner tous les éléments de la page",
  "items.status.active": "Actif",
  "items.status.pending_cancellation": "Annulé le {date}",
  "items.status.cancelled": "Annulé",
  "items.associate": "Associer",
  "items.associateName": "Associer {name} à un terminal",
  "items.dissociate": "Dissocier",
  "items.dissociateName": "Dissocier {name} de son terminal",
  "items.cancel": "Annuler",
  "items.cancelName": "Annuler {name}",
  "items.undo": "Rétablir",
  "items.undoName": "Rétablir {name} (annuler l'annulation)",
  "items.cancelTitle": "Annuler {name}",
  "items.when": "Quand",
  "items.when.now": "Maintenant (la partie non utilisée est remboursée)",
  "items.when.anniversary": "À la fin de la période de facturation",
  "items.reason": "Motif (facultatif)",
  "items.confirmCancel": "Annuler l'élément",
  "items.associateTitle": "Associer {name}",
  "items.bulk": "Actions par lot",
  "items.selected": "{count} sélectionné(s)",
  "items.bulkDevice": "Terminal pour les éléments sélectionnés",
  "items.bulkAssociate": "Associer la sélection",
  "items.bulkDissociate": "Dissocier la sélection",
  "items.bulkResult": "{ok} élément(s) sur {total} mis à jour.",
  "items.bulkFailed": "{item} : {error}",
  "items.associated": "{name} est désormais associé à {device}.",
  "items.dissociatedDone": "{name} n'est plus associé à un terminal.",
  "items.cancelledNow": "{name} est annulé ; {amount} remboursé.",
  "items.cancelScheduled": "{name} sera annulé le {date}.",
  "items.undone": "L'annulation de {name} est annulée.",
  "items.noSelection": "Sélectionnez au moins un élément.",
  "items.noDevice": "Choisissez un terminal.",
  "usage.title": "Utilisation",
  "usage.filters": "Options d'utilisation",
  "usage.period": "Période",
  "usage.current": "Période en cours",
  "usage.groupBy": "Regrouper par",
  "usage.by.service": "Service",
  "usage.by.metric": "Mesure",
  "usage.by.device": "Terminal",
  "usage.by.day": "Jour",
  "usage.service": "Service",
  "usage.metric": "Mesure",
  "usage.device": "Terminal",
  "usage.day": "Jour",
  "usage.quantity": "Quantité",
  "usage.included": "Inclus",
  "usage.billable": "Facturable",
  "usage.amount": "Montant",
  "usage.total": "Total",
  "usage.table": "Utilisation du {start} au {end}",
  "usage.noDevice": "Aucun terminal",
  "budget.title": "Budget mensuel",
  "budget.none": "Aucun budget n'est défini.",
  "budget.amountIs": "Budget : {amount}",
  "budget.estimate": "Période en cours (estimation) : {amount}",
  "budget.thresholdsAre": "Alertes à {list} %",
  "budget.crossed": "Seuils dépassés sur la période : {list} %",
  "budget.amount": "Montant du budget ({currency})",
  "budget.thresholds": "Seuils d'alerte (pourcentages séparés par des virgules)",
  "budget.save": "Enregistrer le budget",
  "budget.delete": "Supprimer le budget",
  "budget.saved": "Budget enregistré.",
  "budget.deleted": "Budget supprimé.",
  "budget.invalidThresholds": "Entrez des pourcentages entiers entre 1 et 1000, séparés par des virgules.",
  "support.title": "Support",
  "support.new": "Ajouter un ticket",
  "support.subject": "Objet",
  "support.message": "Message",
  "support.invoice": "Identifiant de facture (facultatif)",
  "support.payment": "Identifiant de paiement (facultatif)",
  "support.submit": "Envoyer le ticket",
  "support.opened": "Ticket {id} ouvert. Nous vous répondrons par courrier électronique.",
  "support.list": "Vos tickets",
  "support.created": "Ouvert le",
  "support.status": "Statut",
  "upgrade.title": "Mettre à niveau votre compte",
  "upgrade.intro": "Votre compte Lite est gratuit et sans facturation. Ajoutez une carte et une adresse de facturation pour le passer en paiement à l'utilisation et utiliser les services facturables.",
  "upgrade.submit": "Mettre à niveau",
  "upgrade.working": "Validation de votre carte…",
  "upgrade.pending": "La mise à niveau attend la validation de la carte.",
  "upgrade.completed": "Votre compte est mis à niveau.",
  "upgrade.failed": "La mise à niveau a échoué ({code}).",
  "upgrade.noBilling": "Les options de facturation apparaîtront ici une fois le compte mis à niveau.",
};

export const catalogues = { en, fr };
export const LOCALES = [
  ["en", "English"],
  ["fr", "Français"],
];
const CHOSEN = "billow.locale";

let current = "en";
const listeners = new Set();

export function getLocale() {
  return current;
}

/** The locale to use for an account whose own locale is `accountLocale`: the person's choice wins. */
export function initialLocale(accountLocale) {
  let chosen = null;
  try {
    chosen = localStorage.getItem(CHOSEN);
  } catch {
    chosen = null;
  }
  return catalogues[chosen] ? chosen : catalogues[accountLocale] ? accountLocale : "en";
}

export function setLocale(locale, { remember = false } = {}) {
  current = catalogues[locale] ? locale : "en";
  document.documentElement.lang = current;
  if (remember) {
    try {
      localStorage.setItem(CHOSEN, current);
    } catch {
      /* private mode: the choice lasts this page only */
    }
  }
  listeners.forEach((listener) => listener(current));
}

export function onLocaleChange(listener) {
  listeners.add(listener);
}

export function t(key, params = {}) {
  const text = catalogues[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// --- money -------------------------------------------------------------------------------------

/** Digits after the decimal point in `currency` (2 for usd/eur, 0 for jpy), as Intl knows them. */
export function fractionDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** An integer amount of minor units as a decimal string of major units, without floats ("-1234" → "-12.34"). */
export function minorToDecimal(minor, currency) {
  const digits = fractionDigits(currency);
  const negative = minor < 0;
  const text = String(Math.abs(Math.trunc(minor))).padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const frac = digits ? text.slice(-digits) : "";
  return `${negative ? "-" : ""}${whole}${digits ? `.${frac}` : ""}`;
}

export function money(minor, currency, locale = current) {
  if (minor === null || minor === undefined || !currency) return "—";
  const formatter = new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() });
  // Intl formats a decimal string exactly (no binary float in between) in current engines.
  return formatter.format(minorToDecimal(minor, currency));
}

/** What a person types in an amount field, in major units, as minor units; null when unreadable. */
export function parseAmount(text, currency) {
  const digits = fractionDigits(currency);
  let s = String(text || "")
    .trim()
    .replace(/[\s\u00a0\u202f']/g, "");
  s = s.replace(/[^\d.,]/g, "");
  if (!/\d/.test(s)) return null;
  const last = Math.max(s.lastIndexOf("."), s.lastIndexOf(","));
  let whole = s;
  let frac = "";
  if (last >= 0) {
    const tail = s.slice(last + 1);
    if (tail.length > 0 && tail.length <= Math.max(digits, 0) && digits > 0) {
      whole = s.slice(0, last);
      frac = tail;
    } else if (tail.length === 3) {
      whole = s; // a thousands separator ("1,234")
    } else {
      return null;
    }
  }
  whole = whole.replace(/[.,]/g, "");
  if (!/^\d*$/.test(whole) || !/^\d*$/.test(frac)) return null;
  const minor = Number((whole || "0") + frac.padEnd(digits, "0"));
  return Number.isSafeInteger(minor) ? minor : null;
}

/** A minor amount as a person would type it in this locale ("12.34", "12,34"). */
export function amountInput(minor, currency, locale = current) {
  const text = minorToDecimal(minor, currency);
  return locale === "fr" ? text.replace(".", ",") : text;
}

// --- dates ---------------------------------------------------------------------------------------

/** A YYYY-MM-DD calendar date, or an ISO timestamp, in the locale's long-ish form. */
export function date(value, locale = current) {
  if (!value) return "—";
  const onlyDate = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(onlyDate ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return String(value);
  const options = onlyDate
    ? { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" }
    : { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(locale, options).format(d);
}

export function monthLabel(yyyyMm, locale = current) {
  const d = new Date(`${yyyyMm}-01T00:00:00Z`);
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", timeZone: "UTC" }).format(d);
}

export function number(text, locale = current) {
  if (text === null || text === undefined || text === "") return "—";
  const [whole, frac] = String(text).split(".");
  const grouped = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(BigInt(whole || "0"));
  if (!frac) return grouped;
  const sep = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === "decimal")?.value || ".";
  return `${grouped}${sep}${frac}`;
}

/** A unit price given as a decimal string of minor units ("4.5" = 4.5 cents) in major units: $0.045. */
export function unitMoney(decimalMinor, currency, locale = current) {
  if (!decimalMinor || !currency) return "—";
  const digits = fractionDigits(currency);
  const [whole, frac = ""] = String(decimalMinor).split(".");
  const padded = whole.padStart(digits + 1, "0");
  const major = `${padded.slice(0, padded.length - digits) || "0"}.${padded.slice(padded.length - digits)}${frac}`;
  const formatter = new Intl.NumberFormat(locale, {
    style: "currency",
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: Math.min(20, digits + frac.length),
  });
  return formatter.format(digits ? major : major.replace(/\.$/, ""));
}
