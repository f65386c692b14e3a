//! Live state: the push channel followed for as long as the engine lives.

use super::*;

impl Engine {
    /// Follows the push channel for as long as the engine lives: account changes land in
    /// the status; a lost server is retried with backoff (0.5 s doubling to 5 s) and the
    /// account refreshed when it is back; the end of the session logs out here too.
    pub async fn run(&self) {
        let mut status = self.watch_status();
        let mut backoff = Duration::from_millis(500);
        loop {
            if status.borrow_and_update().user.is_none() {
                if status.changed().await.is_err() {
                    return;
                }
                continue;
            }
            match self.follow_push(&mut backoff).await {
                Ok(()) => {}
                Err(ClientError::NotLoggedIn) => {}
                Err(e) if e.ends_session() => {
                    let _ =
                        self.end_locally(&format!("the session has ended ({e})"), LogoutCause::Ended).await;
                }
                Err(e) => {
                    self.set_offline(&e.to_string());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    pub(super) async fn follow_push(&self, backoff: &mut Duration) -> Result<()> {
        let holder =
            crate::held::holder_id().map_err(|e| ClientError::Config(format!("held documents: {e}")))?;
        let mut socket = match self.api()?.push(&self.access_token(false).await?, &holder).await {
            Err(ClientError::Server(e))
                if e.code == ErrorCode::TokenExpired || e.code == ErrorCode::AuthInvalid =>
            {
                self.api()?.push(&self.access_token(true).await?, &holder).await
            }
            other => other,
        }?;
        // What to do should the server go again: fetched at each connection.
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.refresh_offline_terms().await {
                tracing::warn!(error = %e, "cannot fetch the offline terms");
            }
            if let Err(e) = engine.refresh_local_terms().await {
                tracing::warn!(error = %e, "cannot fetch the local print terms");
            }
        });
        let mut status = self.watch_status();
        let ends = self.status().session_ends_at_ms;
        let until_end = ends.map(|t| Duration::from_millis((t - now_ms()).max(0) as u64));
        let end = tokio::time::sleep(until_end.unwrap_or(Duration::from_secs(86_400 * 365)));
        tokio::pin!(end);
        let mut keepalive = tokio::time::interval(Duration::from_secs(20));
        keepalive.tick().await;
        loop {
            tokio::select! {
                msg = socket.next() => match msg {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<PushEvent>(&text) {
                        Ok(PushEvent::Account { account }) => {
                            *backoff = Duration::from_millis(500);
                            self.set_online();
                            self.set_account(account);
                        }
                        Ok(PushEvent::Job { job }) => {
                            use ream_wire::JobState::{Deleted, Expired, Failed, Rejected};
                            if matches!(job.state, Deleted | Rejected | Expired | Failed) {
                                // A held document whose job is gone goes too.
                                crate::held::forget(&job.id).await;
                            }
                            self.emit(ClientEvent::JobChanged { job });
                        }
                        Ok(PushEvent::PrintHere { job, target }) => {
                            let engine = self.clone();
                            tokio::spawn(async move { engine.print_here(job, target).await });
                        }
                        Ok(PushEvent::SessionEnded { reason }) => {
                            return self.end_locally(&format!("the session has ended ({reason})"), LogoutCause::Ended).await;
                        }
                        Err(e) => tracing::warn!(error = %e, "unknown push message"),
                    },
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(ClientError::Unreachable(format!("push channel: {e}"))),
                    None => return Err(ClientError::Unreachable("the server closed the push channel".into())),
                },
                _ = &mut end, if until_end.is_some() => {
                    return self.end_locally("the remember-me period has ended", LogoutCause::Expired).await;
                }
                _ = keepalive.tick() => {
                    if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                        return Err(ClientError::Unreachable("the push channel broke".into()));
                    }
                }
                changed = status.changed() => {
                    if changed.is_err() || status.borrow_and_update().user.is_none() {
                        let _ = socket.close(None).await;
                        return Ok(());
                    }
                }
            }
        }
    }
}
