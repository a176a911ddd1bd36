//! One session id space for the whole server: an id issued by the FlowX side or by the data
//! API names one visitor on both, with the same anonymous user behind it.
//!
//! The registry maps each live id to its visitor (an anonymous session's key in the data
//! side's evaluator, or a signed-in user's Name) and when it was last used. An id that ended
//! (a sign-in replaced it, a sign-out ended it, or it stayed idle longer than
//! `--session-ttl`) is remembered as ended for one more time to live, so that both sides refuse it: a
//! replayed id reaches nothing. An id the server never issued is no session: the data API
//! refuses it; the FlowX side answers it as the runtime does (no instance belongs to it).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Who a live session id stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visitor {
    /// An anonymous visitor, by its key in the data side's evaluator (never the id).
    Anonymous(String),
    /// A signed-in user, by Name.
    User(String),
}

impl Visitor {
    /// How the decision log and the inspector name it (no secret).
    pub fn describe(&self) -> String {
        match self {
            Visitor::Anonymous(key) => format!("anonymous:{key}"),
            Visitor::User(name) => name.clone(),
        }
    }
}

/// What an id is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A live session (its idle time starts again).
    Live(Visitor),
    /// It ended: replaced by a sign-in, signed out, or expired.
    Ended,
    /// The server never issued it.
    Unknown,
}

#[derive(Debug)]
struct Entry {
    visitor: Visitor,
    last_seen: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    live: HashMap<String, Entry>,
    /// Ended ids and when they ended; forgotten one time to live later (by then the id would
    /// have expired anyway, and it reaches nothing: its instances are unbound or moved).
    ended: HashMap<String, Instant>,
    /// Visitors whose sessions expired, for the data side to clean up.
    expired: Vec<Visitor>,
    /// Ids that ended without a successor (signed out, expired), whose FlowX instances are
    /// still to be unbound.
    unbind: Vec<String>,
    next_anonymous: u64,
}

/// The server's session ids, shared by the FlowX routes and the data thread.
#[derive(Debug)]
pub struct Sessions {
    inner: Mutex<Inner>,
    ttl: Duration,
}

/// 128 random bits as 32 hex digits (the FlowX runtime's ids are made the same way).
pub fn new_id() -> String {
    warden::runtime::new_session_id()
}

impl Sessions {
    /// An empty registry whose sessions end after `ttl` without a request.
    pub fn new(ttl: Duration) -> Sessions {
        Sessions { inner: Mutex::new(Inner::default()), ttl }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new anonymous visitor under a new id.
    pub fn issue_anonymous(&self) -> (String, Visitor) {
        let id = new_id();
        let visitor = self.register(&id);
        (id, visitor)
    }

    /// Records an id the FlowX side just issued, as a new anonymous visitor (an id already
    /// known keeps its visitor; an ended one stays ended).
    pub fn register(&self, id: &str) -> Visitor {
        let mut inner = self.inner();
        if let Some(entry) = inner.live.get(id) {
            return entry.visitor.clone();
        }
        inner.next_anonymous += 1;
        let visitor = Visitor::Anonymous(format!("v{}", inner.next_anonymous));
        if !inner.ended.contains_key(id) {
            inner.live.insert(id.to_string(), Entry { visitor: visitor.clone(), last_seen: Instant::now() });
        }
        visitor
    }

    /// What `id` is; a live session's idle time starts again, and one idle longer than the
    /// time to live ends here.
    pub fn lookup(&self, id: &str) -> Lookup {
        self.lookup_at(id, Instant::now())
    }

    fn lookup_at(&self, id: &str, now: Instant) -> Lookup {
        let mut inner = self.inner();
        if inner.ended.contains_key(id) {
            return Lookup::Ended;
        }
        let ttl = self.ttl;
        let Some(entry) = inner.live.get_mut(id) else { return Lookup::Unknown };
        if now.saturating_duration_since(entry.last_seen) > ttl {
            let visitor = entry.visitor.clone();
            inner.live.remove(id);
            inner.ended.insert(id.to_string(), now);
            inner.expired.push(visitor);
            inner.unbind.push(id.to_string());
            return Lookup::Ended;
        }
        entry.last_seen = now;
        Lookup::Live(entry.visitor.clone())
    }

    /// Ends `id` (a sign-out): both sides refuse it from now on.
    pub fn end(&self, id: &str) {
        let mut inner = self.inner();
        inner.live.remove(id);
        inner.ended.insert(id.to_string(), Instant::now());
        inner.unbind.push(id.to_string());
    }

    /// Ends `old` and gives `visitor` a new id (a sign-in): the old id is refused from now on.
    pub fn replace(&self, old: &str, visitor: Visitor) -> String {
        let id = new_id();
        let mut inner = self.inner();
        inner.live.remove(old);
        inner.ended.insert(old.to_string(), Instant::now());
        inner.live.insert(id.clone(), Entry { visitor, last_seen: Instant::now() });
        id
    }

    /// Ends every session idle longer than the time to live; the visitors whose sessions
    /// expired since the last call (here or in [`Sessions::lookup`]), to clean up.
    pub fn sweep(&self) -> Vec<Visitor> {
        self.sweep_at(Instant::now())
    }

    fn sweep_at(&self, now: Instant) -> Vec<Visitor> {
        let mut inner = self.inner();
        let ttl = self.ttl;
        let stale: Vec<String> = inner
            .live
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.last_seen) > ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some(entry) = inner.live.remove(&id) {
                inner.expired.push(entry.visitor);
            }
            inner.unbind.push(id.clone());
            inner.ended.insert(id, now);
        }
        // The registry stays as large as the live sessions of about two times to live.
        inner.ended.retain(|_, at| now.saturating_duration_since(*at) <= ttl);
        let mut expired = std::mem::take(&mut inner.expired);
        // A visitor with another live id (a user signed in twice) is not gone.
        expired.retain(|v| !inner.live.values().any(|e| &e.visitor == v));
        expired
    }

    /// The visitors whose sessions expired in [`Sessions::lookup`] since the last call (cheap:
    /// no scan of the live sessions).
    pub fn take_expired(&self) -> Vec<Visitor> {
        let mut inner = self.inner();
        let mut expired = std::mem::take(&mut inner.expired);
        expired.retain(|v| !inner.live.values().any(|e| &e.visitor == v));
        expired
    }

    /// The ids that ended with no successor since the last call (signed out or expired): their
    /// FlowX instances are to be unbound, so that no server over a shared store reaches them.
    pub fn take_unbind(&self) -> Vec<String> {
        std::mem::take(&mut self.inner().unbind)
    }

    /// How many sessions are live.
    pub fn open(&self) -> usize {
        self.inner().live.len()
    }
}

/// Parses a duration: a number with a unit, `ms`, `s`, `m`, `h` or `d` (`30m`, `90s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 30m, 90s or 2h"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is not a duration such as 30m, 90s or 2h (units: ms, s, m, h, d)")),
    };
    let d = Duration::from_secs(n.saturating_mul(seconds));
    if d.is_zero() {
        return Err("a session must live longer than 0".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_one_visitor_until_it_ends() {
        let s = Sessions::new(Duration::from_secs(60));
        let (a, va) = s.issue_anonymous();
        let vb = s.register("b-id");
        assert_ne!(va, vb, "two visitors");
        assert_eq!(s.lookup(&a), Lookup::Live(va.clone()));
        assert_eq!(s.lookup("b-id"), Lookup::Live(vb));
        assert_eq!(s.lookup("never"), Lookup::Unknown);
        let new = s.replace(&a, Visitor::User("carl".into()));
        assert_eq!(s.lookup(&a), Lookup::Ended);
        assert_eq!(s.register(&a), Visitor::Anonymous("v3".into()));
        assert_eq!(s.lookup(&a), Lookup::Ended, "an ended id never comes back");
        assert_eq!(s.lookup(&new), Lookup::Live(Visitor::User("carl".into())));
        assert_eq!(s.take_unbind(), Vec::<String>::new(), "a sign-in's old id has a successor");
        s.end(&new);
        assert_eq!(s.lookup(&new), Lookup::Ended);
        assert_eq!(s.take_unbind(), vec![new.clone()]);
    }

    #[test]
    fn idle_sessions_expire_and_used_ones_do_not() {
        let s = Sessions::new(Duration::from_secs(10));
        let (idle, v_idle) = s.issue_anonymous();
        let (used, v_used) = s.issue_anonymous();
        let start = Instant::now();
        assert_eq!(s.lookup_at(&used, start + Duration::from_secs(8)), Lookup::Live(v_used.clone()));
        assert_eq!(s.sweep_at(start + Duration::from_secs(12)), vec![v_idle]);
        assert_eq!(s.lookup_at(&idle, start + Duration::from_secs(12)), Lookup::Ended);
        assert_eq!(s.lookup_at(&used, start + Duration::from_secs(12)), Lookup::Live(v_used.clone()));
        assert_eq!(s.lookup_at(&used, start + Duration::from_secs(23)), Lookup::Ended);
        assert_eq!(s.sweep_at(start + Duration::from_secs(23)), vec![v_used]);
        let mut unbind = s.take_unbind();
        unbind.sort();
        let mut both = vec![idle.clone(), used.clone()];
        both.sort();
        assert_eq!(unbind, both);
        assert_eq!(s.open(), 0);
        // An ended id is refused for one time to live after it ended, then forgotten (it is
        // unknown: the data side refuses it, and no FlowX instance is bound to it any more).
        // At 23 `idle` had ended 11 s before, `used` just now.
        assert_eq!(s.lookup_at(&idle, start + Duration::from_secs(24)), Lookup::Unknown);
        assert_eq!(s.lookup_at(&used, start + Duration::from_secs(30)), Lookup::Ended);
        s.sweep_at(start + Duration::from_secs(34));
        assert_eq!(s.lookup_at(&used, start + Duration::from_secs(34)), Lookup::Unknown);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("10").is_err());
    }
}
