//! The desktop shell's own words (tray menu, tooltip, notifications) in English and
//! French. The webview has its own catalogues; these are only what Rust shows.

use ream_client::notices::Notice;
use ream_client::Engine;
use ream_wire::{ClientStatus, Connection, QuotaMetric};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// The settings' language, else the OS locale's (see `effective_language`).
    pub fn of(engine: &Engine) -> Lang {
        let chosen = engine.settings().language;
        match ream_client::settings::effective_language(chosen.as_deref(), |var| std::env::var(var).ok()) {
            "fr" => Lang::Fr,
            _ => Lang::En,
        }
    }

    fn pick(self, en: &'static str, fr: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Fr => fr,
        }
    }
}

/// The tray menu's labels.
pub struct MenuLabels {
    pub open: &'static str,
    pub login: &'static str,
    pub jobs: &'static str,
    pub quit: &'static str,
}

pub fn menu_labels(lang: Lang, logged_in: bool) -> MenuLabels {
    MenuLabels {
        open: lang.pick("Open Ream", "Ouvrir Ream"),
        login: if logged_in {
            lang.pick("Log out", "Se déconnecter")
        } else {
            lang.pick("Log in", "Se connecter")
        },
        jobs: lang.pick("My jobs", "Mes travaux"),
        quit: lang.pick("Quit", "Quitter"),
    }
}

/// The tray's tooltip (and title): who is identified, and whether the server is away.
pub fn tray_status(lang: Lang, status: &ClientStatus) -> String {
    let who = match &status.user {
        Some(u) if !u.full_name.is_empty() => format!("{} ({})", u.full_name, u.username),
        Some(u) => u.username.clone(),
        None => lang.pick("Not logged in", "Non connecté").to_string(),
    };
    let offline = matches!(status.connection, Connection::Offline { .. });
    let suffix = if offline { lang.pick(" — offline", " — hors ligne") } else { "" };
    format!("Ream — {who}{suffix}")
}

/// `cents` as an amount: `1.50 EUR`, `1,50 EUR` in French.
pub fn money(lang: Lang, cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (units, rest) = (cents.abs() / 100, cents.abs() % 100);
    let sep = lang.pick(".", ",");
    let amount = format!("{sign}{units}{sep}{rest:02}");
    if currency.is_empty() {
        amount
    } else {
        format!("{amount} {currency}")
    }
}

/// A notification's title and body.
pub fn notice_text(lang: Lang, notice: &Notice) -> (String, String) {
    let fr = lang == Lang::Fr;
    let (title, body) = match notice {
        Notice::LoginNeeded { job } => (
            lang.pick("Log in to print", "Connectez-vous pour imprimer"),
            if fr {
                format!("« {job} » attend votre connexion.")
            } else {
                format!("“{job}” waits until you log in.")
            },
        ),
        Notice::JobNeedsChoice { name, .. } => (
            lang.pick("Your job needs a choice", "Votre travail attend un choix"),
            if fr {
                format!("Choisissez comment imprimer « {name} ».")
            } else {
                format!("Choose how to print “{name}”.")
            },
        ),
        Notice::JobHeld { name, .. } => (
            lang.pick("Job held", "Travail en attente"),
            if fr {
                format!("« {name} » attend que vous le libériez.")
            } else {
                format!("“{name}” is held until you release it.")
            },
        ),
        Notice::JobPrinted { name, .. } => (
            lang.pick("Printed", "Imprimé"),
            if fr {
                format!("« {name} » a été imprimé.")
            } else {
                format!("“{name}” has been printed.")
            },
        ),
        // The reason is for the log: what matters is that nothing is lost.
        Notice::JobDelayed { name, .. } => (
            lang.pick("Job kept on this computer", "Travail gardé sur cet ordinateur"),
            if fr {
                format!("« {name} » n’a pas encore pu être envoyé au serveur. Ream le garde et réessaie.")
            } else {
                format!("“{name}” could not reach the print server yet. Ream keeps it and tries again.")
            },
        ),
        Notice::JobRejected { name, reason, .. } => (
            lang.pick("Job not printed", "Travail non imprimé"),
            if fr { format!("« {name} » : {reason}") } else { format!("“{name}”: {reason}") },
        ),
        Notice::LowCredit { credit_cents, threshold_cents, currency } => {
            let (credit, threshold) =
                (money(lang, *credit_cents, currency), money(lang, *threshold_cents, currency));
            (
                lang.pick("Low credit", "Crédit bas"),
                if fr {
                    format!("Votre crédit est de {credit}, sous {threshold}.")
                } else {
                    format!("Your credit is {credit}, below {threshold}.")
                },
            )
        }
        Notice::QuotaNearlyUsed { quota } => {
            let amount = |n: i64| match quota.metric {
                QuotaMetric::Money => money(lang, n, ""),
                _ => format!("{n} {}", lang.pick("pages", "pages")),
            };
            let (used, limit) = (amount(quota.used), amount(quota.limit));
            (
                lang.pick("Quota nearly used up", "Quota presque épuisé"),
                if fr {
                    format!("{} : {used} utilisées sur {limit}.", quota.name)
                } else {
                    format!("{}: {used} used of {limit}.", quota.name)
                },
            )
        }
        // The reason is for the log: a person needs to know what it means for them.
        Notice::ServerUnreachable { .. } => (
            lang.pick("Server unreachable", "Serveur injoignable"),
            lang.pick(
                "Ream cannot reach the print server. It keeps trying; you stay logged in.",
                "Ream ne joint plus le serveur d’impression. Il réessaie ; vous restez connecté.",
            )
            .to_string(),
        ),
        Notice::ServerBack => (
            lang.pick("Server back", "Serveur de retour"),
            lang.pick("Ream is connected again.", "Ream est de nouveau connecté.").to_string(),
        ),
        Notice::FallbackOffered { name, printers: true, .. } => (
            lang.pick("Server unreachable: print elsewhere?", "Serveur injoignable : imprimer ailleurs ?"),
            if fr {
                format!("« {name} » peut être imprimé sur une imprimante de secours. Choisissez-la, ou réessayez.")
            } else {
                format!("“{name}” can print on a fallback printer. Choose one, or try again.")
            },
        ),
        Notice::FallbackOffered { name, printers: false, .. } => (
            lang.pick("Server unreachable", "Serveur injoignable"),
            if fr {
                format!("« {name} » attend le serveur. Réessayez, ou annulez-le.")
            } else {
                format!("“{name}” waits for the server. Try again, or cancel it.")
            },
        ),
        Notice::OfflinePrinted { name, printer } => (
            lang.pick("Printed without the server", "Imprimé sans le serveur"),
            if fr {
                format!("Serveur injoignable : « {name} » a été imprimé sur {printer}. Il sera compté à son retour.")
            } else {
                format!("Server unreachable: “{name}” was printed on {printer}. It is accounted for when the server is back.")
            },
        ),
        Notice::OfflineReported { reported, refused } => (
            lang.pick("Offline jobs reported", "Travaux hors ligne transmis"),
            match (fr, refused) {
                (true, 0) => format!("{reported} travail(aux) imprimé(s) hors ligne transmis au serveur."),
                (false, 0) => format!("{reported} job(s) printed offline reported to the server."),
                (true, _) => format!(
                    "{reported} travail(aux) transmis ; le serveur a refusé l’enregistrement de {refused}, signalé à l’administrateur."
                ),
                (false, _) => format!(
                    "{reported} job(s) reported; the server refused the record of {refused}, which the administrator sees."
                ),
            },
        ),
    };
    (title.to_string(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_language() {
        assert_eq!(money(Lang::En, 150, "EUR"), "1.50 EUR");
        assert_eq!(money(Lang::Fr, 5, "EUR"), "0,05 EUR");
        assert_eq!(money(Lang::En, -1234, ""), "-12.34");
    }

    #[test]
    fn every_notice_has_words_in_both_languages() {
        let notices = [
            Notice::LoginNeeded { job: "a.pdf".into() },
            Notice::ServerBack,
            Notice::LowCredit { credit_cents: 50, threshold_cents: 100, currency: "EUR".into() },
        ];
        for notice in &notices {
            let (en, fr) = (notice_text(Lang::En, notice), notice_text(Lang::Fr, notice));
            assert!(!en.0.is_empty() && !en.1.is_empty() && en != fr, "{notice:?}");
        }
        assert_eq!(notice_text(Lang::Fr, &notices[2]).1, "Votre crédit est de 0,50 EUR, sous 1,00 EUR.");
    }
}
