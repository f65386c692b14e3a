//! The webview's commands, answered in the client process (the window forwards them over
//! [`crate::link`]): each is one call to the engine, no rule of its own lives here (a
//! rule belongs in `ream-client`, tested there). Names and arguments are the UI's
//! contract (`ui/src/backend.ts`); `build.rs` and `capabilities/main.json` list the same
//! names, so the window refuses any other before it gets here.

use ream_client::{ClientError, Engine, LoginInput};
use ream_desktop::link::CommandError;
use ream_wire::{FallbackAnswer, JobAnswer};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// Answers `command` with `args` (the webview's argument object) as JSON; an error
/// leaves as `{code, message, details}`, `code` being the engine's `ClientError::code()`.
pub async fn call(engine: &Engine, command: &str, args: Value) -> Result<Value, CommandError> {
    answer(engine, command, args).await.map_err(|failure| match failure {
        Failure::Engine(e) => refusal(&e),
        Failure::Shell(e) => e,
    })
}

/// What the webview is told of an engine error.
fn refusal(e: &ClientError) -> CommandError {
    CommandError { code: e.code().to_string(), message: e.to_string(), details: e.details() }
}

enum Failure {
    Engine(ClientError),
    Shell(CommandError),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::Engine(e)
    }
}

type CommandResult<T> = Result<T, Failure>;

async fn answer(engine: &Engine, command: &str, args: Value) -> CommandResult<Value> {
    match command {
        // Who is identified.
        "status" => json(engine.status()),
        // The methods this workstation can use (user list and SSO once it is enrolled).
        "login_policy" => json(engine.usable_policy().await?),
        "remember_options" => json(engine.remember_options().await?),
        "directory" => {
            let Search { search } = parse(args)?;
            json(engine.directory(&search).await?)
        }
        "login" => {
            let Login { input, remember } = parse(args)?;
            json(engine.login(input, remember.as_deref()).await?)
        }
        "logout" => json(engine.logout().await?),
        // The account; a new PIN is shown once.
        "refresh_account" => json(engine.refresh_account().await?),
        "new_pin" => json(engine.new_pin().await?),
        // Queues and jobs: the job dialog, release, deletion, fallback printing.
        "queues" => json(engine.queues().await?),
        "jobs" => json(engine.jobs().await?),
        "job_dialog" => {
            let Id { id } = parse(args)?;
            json(engine.job_dialog(&id).await?)
        }
        "answer_job" => {
            let AnswerJob { id, answer } = parse(args)?;
            json(engine.answer_job(&id, &answer).await?)
        }
        "release_job" => {
            let Release { id, printer } = parse(args)?;
            json(engine.release_job(&id, printer.as_deref()).await?)
        }
        "delete_job" => {
            let Id { id } = parse(args)?;
            json(engine.delete_job(&id).await?)
        }
        "fallback_offers" => json(engine.fallback_offers().await?),
        "answer_fallback" => {
            let AnswerFallback { job, answer } = parse(args)?;
            json(engine.answer_fallback(&job, answer).await?)
        }
        // About and the desktop's settings. `None` follows the operating system's locale.
        "about" => json(engine.about()),
        "desktop_settings" => json(engine.desktop_settings()),
        "set_language" => {
            let Language { language } = parse(args)?;
            json(engine.set_language(language.as_deref()).await?)
        }
        // Fails with `CERTIFICATE_UNTRUSTED` and `details.fingerprint` when the server's
        // certificate must be confirmed: called again with that fingerprint once the user agrees.
        "set_server" => {
            let Server { url, fingerprint } = parse(args)?;
            engine.set_server(&url, fingerprint.as_deref()).await?;
            json(engine.desktop_settings())
        }
        other => Err(Failure::Shell(CommandError::new("UNKNOWN_COMMAND", format!("no command {other:?}")))),
    }
}

fn json(value: impl serde::Serialize) -> CommandResult<Value> {
    serde_json::to_value(value).map_err(|e| Failure::Shell(CommandError::new("INTERNAL", e.to_string())))
}

/// The arguments as the command takes them; a missing or mistyped one is refused with
/// what was wrong. (No arguments arrive as `null` or `{}`.)
fn parse<T: DeserializeOwned>(args: Value) -> CommandResult<T> {
    let args = if args.is_null() { Value::Object(Default::default()) } else { args };
    serde_json::from_value(args)
        .map_err(|e| Failure::Shell(CommandError::new("BAD_ARGUMENTS", e.to_string())))
}

#[derive(Deserialize)]
struct Search {
    search: String,
}

#[derive(Deserialize)]
struct Login {
    input: LoginInput,
    remember: Option<String>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct AnswerJob {
    id: String,
    answer: JobAnswer,
}

#[derive(Deserialize)]
struct Release {
    id: String,
    printer: Option<String>,
}

#[derive(Deserialize)]
struct AnswerFallback {
    job: String,
    answer: FallbackAnswer,
}

#[derive(Deserialize)]
struct Language {
    language: Option<String>,
}

#[derive(Deserialize)]
struct Server {
    url: String,
    fingerprint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(ream_client::Settings::default(), std::sync::Arc::new(NoSecrets), false)
    }

    #[tokio::test]
    async fn commands_answer_as_json_and_refuse_what_they_do_not_know() {
        let engine = engine();
        let status = call(&engine, "status", Value::Null).await.unwrap();
        assert_eq!(status["user"], Value::Null, "{status}");
        let about = call(&engine, "about", serde_json::json!({})).await.unwrap();
        assert!(about.is_object(), "{about}");

        let e = call(&engine, "steal", Value::Null).await.unwrap_err();
        assert_eq!(e.code, "UNKNOWN_COMMAND");
        let e = call(&engine, "job_dialog", serde_json::json!({ "id": 7 })).await.unwrap_err();
        assert_eq!(e.code, "BAD_ARGUMENTS", "{e:?}");
        let e = call(&engine, "directory", Value::Null).await.unwrap_err();
        assert!(e.code == "BAD_ARGUMENTS" && e.message.contains("search"), "{e:?}");
        // The engine's own refusal comes through with its code.
        let e = call(&engine, "jobs", Value::Null).await.unwrap_err();
        assert_eq!(e.code, "NOT_LOGGED_IN", "{e:?}");
    }

    #[test]
    fn engine_errors_reach_the_webview_as_code_message_details() {
        let e = refusal(&ClientError::CertificateUnconfirmed { fingerprint: "AB:CD".into() });
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "code": "CERTIFICATE_UNTRUSTED",
                "message": e.message,
                "details": { "fingerprint": "AB:CD" },
            })
        );
        let e = serde_json::to_value(refusal(&ClientError::NotLoggedIn)).unwrap();
        assert_eq!(
            e,
            serde_json::json!({ "code": "NOT_LOGGED_IN", "message": "nobody is logged in", "details": null })
        );
    }

    struct NoSecrets;
    impl ream_client::secrets::SecretStore for NoSecrets {
        fn get(&self, _: &str) -> ream_client::Result<Option<String>> {
            Ok(None)
        }
        fn set(&self, _: &str, _: &str) -> ream_client::Result<()> {
            Ok(())
        }
        fn delete(&self, _: &str) -> ream_client::Result<()> {
            Ok(())
        }
    }
}
