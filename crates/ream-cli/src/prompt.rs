//! Terminal prompts. On a terminal, secrets are read without echo; otherwise every
//! answer is one line of standard input, so scripts and tests can answer.

use std::io::{BufRead, IsTerminal, Write};

use ream_client::ClientError;
use ream_wire::{DirectoryEntry, LoginMethod, RememberOption};

fn cancelled() -> ClientError {
    ClientError::Config("no answer on standard input".into())
}

pub fn line(prompt: &str) -> Result<String, ClientError> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer).map_err(|_| cancelled())?;
    if read == 0 {
        return Err(cancelled());
    }
    Ok(answer.trim().to_string())
}

pub fn secret(prompt: &str) -> Result<String, ClientError> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|_| cancelled())
    } else {
        line(prompt)
    }
}

pub fn confirm_certificate(server: &str, fingerprint: &str) -> bool {
    eprintln!("The server {server} presents a certificate that no authority vouches for.");
    eprintln!("Its SHA-256 fingerprint is:\n  {fingerprint}");
    eprintln!("Compare it with the one your administrator gave you.");
    matches!(
        line("Trust this certificate? [y/N] ").as_deref().map(str::to_lowercase).as_deref(),
        Ok("y" | "yes")
    )
}

pub fn choose_method(methods: &[LoginMethod]) -> Result<LoginMethod, ClientError> {
    let usable: Vec<LoginMethod> = methods.iter().copied().filter(|m| *m != LoginMethod::Sso).collect();
    if let [only] = usable[..] {
        return Ok(only);
    }
    let names: Vec<&str> = usable.iter().map(|m| m.as_str()).collect();
    loop {
        let answer = line(&format!("Log in by [{}]: ", names.join("/")))?;
        if let Some(m) = LoginMethod::parse(&answer.replace('-', "_")).filter(|m| usable.contains(m)) {
            return Ok(m);
        }
        eprintln!("Please answer one of: {}", names.join(", "));
    }
}

/// Asks only on a terminal: a script that wants remember-me says so with --remember.
pub fn choose_remember(options: &[RememberOption]) -> Result<Option<String>, ClientError> {
    if options.is_empty() || !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
    loop {
        let answer = line(&format!("Remember me for [{}/no] (no): ", ids.join("/")))?;
        if answer.is_empty() || answer == "no" {
            return Ok(None);
        }
        if ids.contains(&answer.as_str()) {
            return Ok(Some(answer));
        }
    }
}

pub fn pick_user(users: &[DirectoryEntry]) -> Result<String, ClientError> {
    for (i, u) in users.iter().enumerate() {
        eprintln!("  {:>3}. {} ({})", i + 1, u.full_name, u.username);
    }
    loop {
        let answer = line("Number or username: ")?;
        if let Ok(n) = answer.parse::<usize>() {
            if let Some(u) = users.get(n.wrapping_sub(1)) {
                return Ok(u.username.clone());
            }
        }
        if let Some(u) = users.iter().find(|u| u.username == answer) {
            return Ok(u.username.clone());
        }
    }
}

/// Asks at the terminal what to do with a job the server cannot take now: a printer of
/// the offer (by number or name), an address typed (where the offer allows it), try
/// again, or cancel. Only on a terminal: elsewhere the offer is answered by
/// `ream jobs fallback`.
pub fn fallback_answer(offer: &ream_wire::FallbackOffer) -> Option<ream_wire::FallbackAnswer> {
    use ream_wire::FallbackAnswer;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    for (i, p) in offer.printers.iter().enumerate() {
        eprintln!("  {:>3}. {}", i + 1, p.name);
    }
    let typed = if offer.may_type { ", or a printer's address" } else { "" };
    let answer =
        line(&format!("Print {:?} on [number{typed}], t to try again, c to cancel: ", offer.name)).ok()?;
    Some(match answer.as_str() {
        "t" | "" => FallbackAnswer::TryAgain,
        "c" => FallbackAnswer::Cancel,
        other => match other.parse::<usize>().ok().and_then(|n| offer.printers.get(n.wrapping_sub(1))) {
            Some(p) => FallbackAnswer::Print { printer: p.name.clone() },
            None => FallbackAnswer::Print { printer: other.to_string() },
        },
    })
}
