//! A Ream queue shared by everyone on the computer (a terminal server, a lab): `ream cups
//! install --shared` gives it the device [`super::routed_device`] and the policy under
//! which CUPS authenticates each job's sender by its local socket (see [`super::setup`]).
//! For each job, Ream's backend asks the sender's own running client — found through the
//! [`super::Registry`], its socket's peer checked to be that OS user — where its local
//! printer listens (a port whose listening socket the kernel says is that user's), and
//! hands the job to it with CUPS' own `ipp` backend. Each person's
//! job thus reaches that person's client and account, never another's; the client checks
//! again that CUPS names its own user as the job's sender (see [`crate::peer::job_is_mine`]).
//!
//! With the sender's client not running (nobody of that name logged in), the job is held
//! in CUPS and noted as waiting for that user ([`super::Wait::Client`]); that user's
//! client releases it when it runs, and only theirs may (CUPS lets a job's owner release
//! it, and the backend would route it to its sender again anyway).

use ream_wire::{AgentReply, AgentRequest};

use super::backend::{ask_client, run_device, say, Input, JobArgs, CANCEL, HOLD, OK};
use super::{Registry, Wait};

/// How long CUPS' `ipp` backend tries to connect to a client that said where it listens
/// (and may have stopped since) before Ream holds the job for it again.
const CONNECT_SECONDS: u32 = 30;

/// Hands the job in `job` to its sender's client's printer at `path`; CUPS' exit code.
pub async fn route(job: &JobArgs, path: &str, registry: &Registry) -> i32 {
    let Some(uid) = super::uid_of(&job.user) else {
        say(
            "ERROR",
            &format!("{} is not a user of this computer: nobody's client can take the job", job.user),
        );
        return CANCEL;
    };
    let port = match ask_client(registry, uid, &AgentRequest::PrinterPort).await {
        Some(AgentReply::Printer { port }) => port,
        _ => {
            say("INFO", &format!("held until {} runs Ream", job.user));
            return hold(job, registry);
        }
    };
    // A client announces its own printer: not another user's, nor any other service's.
    if crate::peer::listener(port) != Some(uid) {
        say("ERROR", &format!("{}'s Ream client named a port that is not its own ({port}): held", job.user));
        return hold(job, registry);
    }
    say("INFO", &format!("to {}'s Ream client", job.user));
    // Without waiting for the job to end there: the client keeps it (a login to wait
    // for, a question to answer) while the queue goes on with everyone else's.
    let device = format!("ipp://127.0.0.1:{port}{path}?contimeout={CONNECT_SECONDS}&waitjob=false");
    match run_device(job, &device, job.file.as_deref().map_or(Input::Inherited, Input::File)) {
        OK => OK,
        CANCEL => CANCEL,
        // Refused (this port is no longer the sender's client's), cut off, or stopped:
        // the job waits for the sender's client again rather than stopping the queue.
        code => {
            say(
                "INFO",
                &format!("{}'s Ream client did not take the job (backend exit {code}): held", job.user),
            );
            hold(job, registry)
        }
    }
}

fn hold(job: &JobArgs, registry: &Registry) -> i32 {
    if let Err(e) = registry.note_held(Wait::Client, job.job, &job.user) {
        say("ERROR", &format!("cannot note the held job: {e}"));
    }
    HOLD
}
