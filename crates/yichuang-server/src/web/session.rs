//! Sign-in sessions of the web pages (登录).
//!
//! **Decision.** A person signs in by typing their bearer token into the sign-in form; the
//! service checks it against the tokens file exactly as the API does and answers with a
//! session cookie: 256 random bits naming a session kept in memory, `HttpOnly` (no script,
//! ours or an injected one, can read it), `SameSite=Strict` (no other site's page can send it),
//! `Path=/`, no expiry (gone when the browser closes), `Secure` when the request came through an
//! HTTPS proxy (`X-Forwarded-Proto: https`). The token itself is sent once, in the body of the
//! sign-in POST: never in a URL, never in a cookie, never in a log line, never in the page.
//!
//! Why not keep the token in `sessionStorage` and send it from JavaScript: the pages are
//! rendered by the server, so a plain navigation (and a reload, which must show the truth when
//! live updates fail) has to carry the identity, which only a cookie does; an `EventSource`
//! cannot send an `Authorization` header; and a token readable by scripts is one injected script
//! away from leaking.
//!
//! Every form carries the session's own random anti-forgery value ([`Session::csrf`]), checked on
//! every POST besides `SameSite=Strict`. Sessions end on sign-out, after
//! [`SESSION_IDLE`] without a request, or when the service restarts (they are not stored: a
//! restart asks everyone to sign in again, which is safe). At most [`SESSIONS_MAX`] sessions are
//! kept; past that, the one idle longest ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use yichuang_core::Actor;

/// The session cookie's name.
pub const COOKIE: &str = "yichuang_session";

/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

/// Sessions kept at most; a new one past this ends the one idle longest.
pub const SESSIONS_MAX: usize = 10_000;

/// One signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who: the token's actor, as the API sees it.
    pub actor: Actor,
    /// The anti-forgery value every form of this session carries (64 hex digits).
    pub csrf: String,
    /// A message for the next page shown (the outcome of the last form sent).
    pub flash: Option<Flash>,
    last_seen: Instant,
}

/// The outcome of a form, shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Whether the command was carried out.
    pub ok: bool,
    /// What to tell the person.
    pub text: String,
}

/// The sessions of this run.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// 64 hex digits from the operating system's random source.
pub fn random_hex() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    /// Opens a session for `actor`: its id (the cookie's value) and its anti-forgery value.
    pub fn open(&self, actor: Actor) -> Result<(String, String), getrandom::Error> {
        let (id, csrf) = (random_hex()?, random_hex()?);
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_seen) < SESSION_IDLE);
        if sessions.len() >= SESSIONS_MAX {
            let oldest = sessions.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                sessions.remove(&k);
            }
        }
        sessions.insert(id.clone(), Session { actor, csrf: csrf.clone(), flash: None, last_seen: now });
        Ok((id, csrf))
    }

    /// The session `id`, if open and not idle too long (it is then touched), with its flash
    /// message taken out.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        let now = Instant::now();
        let session = sessions.get_mut(id)?;
        if now.duration_since(session.last_seen) >= SESSION_IDLE {
            sessions.remove(id);
            return None;
        }
        session.last_seen = now;
        let seen = session.clone();
        session.flash = None;
        Some(seen)
    }

    /// Leaves a message for the session's next page.
    pub fn flash(&self, id: &str, flash: Flash) {
        if let Some(s) = self.lock().get_mut(id) {
            s.flash = Some(flash);
        }
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Open sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves a consistent map (every change is one call).
        self.by_id.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Whether two strings are equal, in time that depends only on their lengths (the anti-forgery
/// check must not tell an attacker how many leading characters they guessed).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_opens_is_found_and_closes() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.open(Actor::leader("leader-li")).unwrap();
        assert_eq!((id.len(), csrf.len()), (64, 64));
        assert_ne!(id, csrf, "two independent random values");
        let s = sessions.touch(&id).expect("open");
        assert_eq!((s.actor.id.as_str(), s.csrf.as_str()), ("leader-li", csrf.as_str()));
        assert!(sessions.touch("not-a-session").is_none());
        sessions.close(&id);
        assert!(sessions.touch(&id).is_none(), "closed");
    }

    #[test]
    fn a_flash_message_is_shown_once() {
        let sessions = Sessions::default();
        let (id, _) = sessions.open(Actor::admin("admin")).unwrap();
        sessions.flash(&id, Flash { ok: true, text: "已认领".into() });
        assert_eq!(sessions.touch(&id).unwrap().flash.map(|f| f.text), Some("已认领".into()));
        assert_eq!(sessions.touch(&id).unwrap().flash, None);
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "other=1; yichuang_session_x=no; yichuang_session=abc; z=2";
        assert_eq!(cookie(header, COOKIE), Some("abc"));
        assert_eq!(cookie("a=1", COOKIE), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
