//! The storage rules every backend shares, as pure functions.
//!
//! A backend stores four kinds of entries beside the records: the active
//! index (`owner, scope -> id`), the owner index (`owner, id -> scope`, for
//! "forget me"), the expiry index (`kind, last touch, id`, so the sweep reads
//! only what is due) and sharded counters (for `stats`). What one change does
//! to all of them is decided here, from the state before and after it:
//! [`plan`] turns `(old, new)` into a [`WriteSet`] that a backend applies
//! atomically, if and only if its expectations still hold (optimistic
//! concurrency: the caller re-reads and retries when they do not).
//!
//! Counters are split over [`COUNTER_SHARDS`] keys chosen by a hash of the
//! session id and summed on read, so concurrent clicks on different sessions
//! do not all write one hot key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Stats, StoreError, SCHEMA_VERSION};
use crate::domain::session::{Session, Status};

/// How many keys each counter is spread over.
pub const COUNTER_SHARDS: u8 = 32;

/// A record's version: bumped by every stored change, compared on commit.
pub type Version = u64;

/// What a record looks like on disk (JSON: small records, and a human can
/// read one when debugging a store).
#[derive(Serialize)]
struct RecordOut<'a> {
    schema: u32,
    v: Version,
    session: &'a Session,
}

/// The envelope alone, so the schema is checked before the body is decoded.
#[derive(Deserialize)]
struct Envelope {
    schema: u32,
    /// Absent in records written before versions existed: version 0.
    #[serde(default)]
    v: Version,
    session: serde_json::Value,
}

/// Encodes `session` at version `v`.
pub fn encode(session: &Session, v: Version) -> Vec<u8> {
    // Plain structs of strings, numbers and string-keyed maps always serialise.
    serde_json::to_vec(&RecordOut {
        schema: SCHEMA_VERSION,
        v,
        session,
    })
    .unwrap_or_default()
}

/// Decodes a record, refusing other schema versions.
pub fn decode(key: &str, bytes: &[u8]) -> Result<(Session, Version), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if envelope.schema != SCHEMA_VERSION {
        return Err(corrupt(format!(
            "schema version {} (this build reads {SCHEMA_VERSION})",
            envelope.schema
        )));
    }
    let session = serde_json::from_value(envelope.session).map_err(|e| corrupt(e.to_string()))?;
    Ok((session, envelope.v))
}

/// The version of a stored record without decoding its body (used by
/// backends to check an expectation inside their transaction).
pub fn version_of(bytes: &[u8]) -> Option<Version> {
    #[derive(Deserialize)]
    struct OnlyV {
        #[serde(default)]
        v: Version,
    }
    serde_json::from_slice::<OnlyV>(bytes).ok().map(|o| o.v)
}

/// Which TTL applies: team sessions are meetings, private ones projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Private,
    Team,
}

impl Kind {
    pub fn of(session: &Session) -> Kind {
        if session.team.is_some() {
            Kind::Team
        } else {
            Kind::Private
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Kind::Private => b'p',
            Kind::Team => b't',
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        match code {
            b'p' => Some(Kind::Private),
            b't' => Some(Kind::Team),
            _ => None,
        }
    }
}

/// The TTLs a sweep applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    pub private: i64,
    pub team: i64,
}

impl Ttls {
    pub fn of(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Private => self.private,
            Kind::Team => self.team,
        }
    }

    /// Sessions of `kind` last touched before this instant are expired at `now`
    /// (`Session::is_expired`: `now - updated_at > ttl`).
    pub fn cutoff(&self, kind: Kind, now: i64) -> i64 {
        now.saturating_sub(self.of(kind))
    }
}

/// An entry of the expiry index: ordered by kind, then last touch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpiryKey {
    pub kind: Kind,
    pub touched: i64,
    pub id: String,
}

impl ExpiryKey {
    pub fn of(session: &Session) -> ExpiryKey {
        ExpiryKey {
            kind: Kind::of(session),
            touched: session.updated_at,
            id: session.id.clone(),
        }
    }

    /// Order-preserving bytes: kind, touched (sign-flipped big-endian), id.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + self.id.len());
        k.push(self.kind.code());
        k.extend_from_slice(&ordered_i64(self.touched));
        k.extend_from_slice(self.id.as_bytes());
        k
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<ExpiryKey> {
        let kind = Kind::from_code(*bytes.first()?)?;
        let touched = <[u8; 8]>::try_from(bytes.get(1..9)?).ok()?;
        let id = std::str::from_utf8(bytes.get(9..)?).ok()?;
        Some(ExpiryKey {
            kind,
            touched: (u64::from_be_bytes(touched) ^ (1 << 63)) as i64,
            id: id.to_string(),
        })
    }

    /// The first key of `kind` touched at or after `touched` (a scan bound).
    pub fn bound(kind: Kind, touched: i64) -> Vec<u8> {
        let mut k = vec![kind.code()];
        k.extend_from_slice(&ordered_i64(touched));
        k
    }
}

fn ordered_i64(x: i64) -> [u8; 8] {
    ((x as u64) ^ (1 << 63)).to_be_bytes()
}

/// The counter shard of a session: a stable hash of its id (FNV-1a).
pub fn shard_of(id: &str) -> u8 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % u32::from(COUNTER_SHARDS)) as u8
}

/// Writes to the record of one session, conditional on its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWrite {
    pub id: String,
    /// `None`: the record must not exist; `Some(v)`: it must be at version `v`.
    pub expect: Option<Version>,
    /// `None`: delete it; else the new version and its bytes.
    pub new: Option<(Version, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveWrite {
    /// Point `(owner, scope)` at `id`, if it still points at `expect` (or at
    /// nothing when `expect` is `None`).
    Claim {
        owner: String,
        scope: String,
        id: String,
        expect: Option<String>,
    },
    /// Remove `(owner, scope)` if it points at `id` (and leave it otherwise).
    Release { owner: String, scope: String, id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerWrite {
    Add { owner: String, id: String, scope: String },
    Remove { owner: String, id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryWrite {
    Add(ExpiryKey),
    Remove(ExpiryKey),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CounterDelta {
    pub name: String,
    pub shard: u8,
    pub delta: i64,
}

/// Everything one change writes; a backend applies all of it or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    pub records: Vec<RecordWrite>,
    pub active: Vec<ActiveWrite>,
    pub owners: Vec<OwnerWrite>,
    pub expiry: Vec<ExpiryWrite>,
    /// Sorted by (name, shard), merged: backends that lock rows take them in
    /// one order, so two transactions never wait on each other in a circle.
    pub counters: Vec<CounterDelta>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.active.is_empty()
            && self.owners.is_empty()
            && self.expiry.is_empty()
            && self.counters.is_empty()
    }

    /// Appends `other` (several sessions in one commit: "forget me").
    pub fn extend(&mut self, other: WriteSet) {
        self.records.extend(other.records);
        self.active.extend(other.active);
        self.owners.extend(other.owners);
        self.expiry.extend(other.expiry);
        self.counters.extend(other.counters);
        self.counters = merge_counters(std::mem::take(&mut self.counters));
    }
}

fn merge_counters(mut all: Vec<CounterDelta>) -> Vec<CounterDelta> {
    all.sort();
    let mut merged: Vec<CounterDelta> = Vec::with_capacity(all.len());
    for c in all {
        match merged.last_mut() {
            Some(last) if last.name == c.name && last.shard == c.shard => last.delta += c.delta,
            _ => merged.push(c),
        }
    }
    merged.retain(|c| c.delta != 0);
    merged
}

/// What becomes of a session.
#[derive(Debug, Clone, Copy)]
pub enum After<'a> {
    /// Stored in this state.
    Stored(&'a Session),
    /// Deleted at the user's request ("forget me"): not an abandonment.
    Deleted,
    /// Removed by the sweep: an active one counts as abandoned.
    Expired,
}

/// Counter names (stable: they are stored keys).
pub mod counter {
    pub const STARTED: &str = "started";
    pub const COMPLETED: &str = "completed";
    pub const ABANDONED: &str = "abandoned";
    pub const ACTIVE: &str = "active";
    pub const TEAM_STARTED: &str = "team:started";
    pub const TEAM_COMPLETED: &str = "team:completed";
    pub const TEAM_ABANDONED: &str = "team:abandoned";
    pub const TEAM_PARTICIPANTS: &str = "team:participants";
    pub const TEAM_VOTES: &str = "team:votes";
    pub const OUTCOME_PREFIX: &str = "outcome:";
    pub const DROPOFF_PREFIX: &str = "dropoff:";
}

/// The counter changes of `old -> after` (pure).
pub fn counter_effects(old: Option<&Session>, after: After<'_>) -> BTreeMap<String, i64> {
    use counter::*;
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    let mut bump = |name: &str, by: i64| *out.entry(name.to_string()).or_default() += by;
    let was_active = old.is_some_and(|s| s.status == Status::Active);
    match after {
        After::Stored(new) => {
            if old.map(|s| s.status) != Some(new.status) {
                match (new.status, &new.team) {
                    (Status::Active, None) => bump(STARTED, 1),
                    (Status::Active, Some(_)) => bump(TEAM_STARTED, 1),
                    (Status::Completed, None) => {
                        bump(COMPLETED, 1);
                        bump(
                            &format!("{OUTCOME_PREFIX}{}", new.outcome.as_deref().unwrap_or("unknown")),
                            1,
                        );
                    }
                    (Status::Completed, Some(team)) => {
                        bump(TEAM_COMPLETED, 1);
                        bump(TEAM_PARTICIPANTS, team.participants() as i64);
                        bump(TEAM_VOTES, team.vote_count() as i64);
                    }
                    (Status::Cancelled, _) => abandon(new, &mut bump),
                }
            }
            let is_active = new.status == Status::Active;
            if is_active != was_active {
                bump(ACTIVE, if is_active { 1 } else { -1 });
            }
        }
        After::Deleted => {
            if was_active {
                bump(ACTIVE, -1);
            }
        }
        After::Expired => {
            if let (true, Some(old)) = (was_active, old) {
                abandon(old, &mut bump);
                bump(ACTIVE, -1);
            }
        }
    }
    out.retain(|_, v| *v != 0);
    out
}

fn abandon(session: &Session, bump: &mut impl FnMut(&str, i64)) {
    use counter::*;
    if session.team.is_some() {
        bump(TEAM_ABANDONED, 1);
        return;
    }
    bump(ABANDONED, 1);
    if let Some(q) = &session.current {
        bump(&format!("{DROPOFF_PREFIX}{q}"), 1);
    }
}

/// Everything a change of session `id` writes (pure). `old` is the state
/// read (with its version); the backend commits only if it is still current.
/// A new session's active-index claim expects no entry; [`plan_start`] sets
/// what `start` saw instead.
pub fn plan(id: &str, old: Option<(&Session, Version)>, after: After<'_>) -> WriteSet {
    let mut ws = WriteSet::default();
    let old_session = old.map(|(s, _)| s);
    let next_version = old.map_or(1, |(_, v)| v + 1);
    ws.records.push(RecordWrite {
        id: id.to_string(),
        expect: old.map(|(_, v)| v),
        new: match after {
            After::Stored(new) => Some((next_version, encode(new, next_version))),
            After::Deleted | After::Expired => None,
        },
    });
    // The active index: claimed on creation while active, released when the
    // session stops being active or goes away.
    let new_session = match after {
        After::Stored(s) => Some(s),
        _ => None,
    };
    let was_active = old_session.is_some_and(|s| s.status == Status::Active);
    let is_active = new_session.is_some_and(|s| s.status == Status::Active);
    match (old_session, new_session) {
        (None, Some(new)) => {
            if is_active {
                ws.active.push(ActiveWrite::Claim {
                    owner: new.owner.clone(),
                    scope: new.scope.clone(),
                    id: id.to_string(),
                    expect: None,
                });
            }
            ws.owners.push(OwnerWrite::Add {
                owner: new.owner.clone(),
                id: id.to_string(),
                scope: new.scope.clone(),
            });
            ws.expiry.push(ExpiryWrite::Add(ExpiryKey::of(new)));
        }
        (Some(old), Some(new)) => {
            if was_active && !is_active {
                ws.active.push(release(old));
            }
            let (before, now) = (ExpiryKey::of(old), ExpiryKey::of(new));
            if before != now {
                ws.expiry.push(ExpiryWrite::Remove(before));
                ws.expiry.push(ExpiryWrite::Add(now));
            }
        }
        (Some(old), None) => {
            if was_active {
                ws.active.push(release(old));
            }
            ws.owners.push(OwnerWrite::Remove {
                owner: old.owner.clone(),
                id: id.to_string(),
            });
            ws.expiry.push(ExpiryWrite::Remove(ExpiryKey::of(old)));
        }
        (None, None) => {}
    }
    let shard = shard_of(id);
    ws.counters = merge_counters(
        counter_effects(old_session, after)
            .into_iter()
            .map(|(name, delta)| CounterDelta { name, shard, delta })
            .collect(),
    );
    ws
}

fn release(s: &Session) -> ActiveWrite {
    ActiveWrite::Release {
        owner: s.owner.clone(),
        scope: s.scope.clone(),
        id: s.id.clone(),
    }
}

/// [`plan`] for a new session when the active index held `seen` (an entry
/// pointing at a session that is no longer active, or nothing).
pub fn plan_start(session: &Session, seen: Option<String>) -> WriteSet {
    let mut ws = plan(&session.id, None, After::Stored(session));
    for a in &mut ws.active {
        if let ActiveWrite::Claim { expect, .. } = a {
            *expect = seen.clone();
        }
    }
    ws
}

/// Sums per-shard counter values into [`Stats`] (names as in [`counter`]).
pub fn stats_from_counters(rows: impl IntoIterator<Item = (String, i64)>) -> Stats {
    use counter::*;
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for (name, n) in rows {
        *sums.entry(name).or_default() += n;
    }
    let mut stats = Stats::default();
    for (name, n) in sums {
        let n = u64::try_from(n).unwrap_or(0);
        match name.as_str() {
            TEAM_STARTED => stats.team.started = n,
            TEAM_COMPLETED => stats.team.completed = n,
            TEAM_ABANDONED => stats.team.abandoned = n,
            TEAM_PARTICIPANTS => stats.team.participants = n,
            TEAM_VOTES => stats.team.votes = n,
            STARTED => stats.started = n,
            COMPLETED => stats.completed = n,
            ABANDONED => stats.abandoned = n,
            ACTIVE => stats.active = n,
            other => {
                if let Some(o) = other.strip_prefix(OUTCOME_PREFIX) {
                    stats.outcomes.insert(o.to_string(), n);
                } else if let Some(q) = other.strip_prefix(DROPOFF_PREFIX) {
                    stats.dropoff.insert(q.to_string(), n);
                }
            }
        }
    }
    stats
}

/// A named lease (one sweeper, one command sync across instances), stored
/// as a meta value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    /// Unix seconds after which another holder may take it.
    pub until: i64,
}

impl Lease {
    pub fn meta_key(name: &str) -> String {
        format!("lease:{name}")
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Unreadable leases count as free: a damaged value must not wedge the sweep.
    pub fn decode(bytes: &[u8]) -> Option<Lease> {
        serde_json::from_slice(bytes).ok()
    }

    /// Whether `holder` may take (or renew) this lease at `now`.
    pub fn available_to(&self, holder: &str, now: i64) -> bool {
        self.holder == holder || self.until <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::questionnaire::tests::sample;
    use crate::domain::session::{Command, PRIVATE_SCOPE};
    use crate::domain::team::TeamState;
    use proptest::prelude::*;

    fn session(id: &str) -> Session {
        Session::start(&sample(), id.into(), "u".into(), PRIVATE_SCOPE.into(), 10)
    }

    fn counters(ws: &WriteSet) -> BTreeMap<String, i64> {
        ws.counters.iter().map(|c| (c.name.clone(), c.delta)).collect()
    }

    #[test]
    fn record_round_trips_with_its_version() {
        let s = session("a");
        let bytes = encode(&s, 7);
        assert_eq!(decode("a", &bytes).unwrap(), (s, 7));
        assert_eq!(version_of(&bytes), Some(7));
    }

    #[test]
    fn records_without_a_version_read_as_version_zero() {
        let s = session("a");
        let old = serde_json::to_vec(&serde_json::json!({"schema": 1, "session": s})).unwrap();
        assert_eq!(decode("a", &old).unwrap().1, 0);
        assert_eq!(version_of(&old), Some(0));
    }

    #[test]
    fn other_schema_versions_are_refused_by_name() {
        let e = decode("k", br#"{"schema":99,"session":{}}"#).unwrap_err().to_string();
        assert!(e.contains("schema version 99") && e.contains('k'), "{e}");
        assert!(matches!(decode("k", b"{nope"), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn creating_claims_indexes_and_counts() {
        let s = session("a");
        let ws = plan_start(&s, None);
        assert_eq!(ws.records[0].expect, None);
        assert_eq!(ws.records[0].new.as_ref().map(|n| n.0), Some(1));
        assert!(matches!(&ws.active[..], [ActiveWrite::Claim { expect: None, .. }]));
        assert_eq!(ws.expiry, vec![ExpiryWrite::Add(ExpiryKey::of(&s))]);
        assert_eq!(
            counters(&ws),
            BTreeMap::from([("active".into(), 1), ("started".into(), 1)])
        );
    }

    #[test]
    fn a_click_writes_its_record_and_moves_its_expiry_only() {
        let old = session("a");
        let mut new = old.clone();
        new.apply(
            &sample(),
            Command::Answer {
                question: "kind".into(),
                options: vec!["api".into()],
            },
            20,
        )
        .unwrap();
        let ws = plan("a", Some((&old, 3)), After::Stored(&new));
        assert_eq!(ws.records[0].expect, Some(3));
        assert!(ws.active.is_empty() && ws.owners.is_empty() && ws.counters.is_empty());
        assert_eq!(
            ws.expiry,
            vec![
                ExpiryWrite::Remove(ExpiryKey::of(&old)),
                ExpiryWrite::Add(ExpiryKey::of(&new))
            ]
        );
    }

    #[test]
    fn cancelling_releases_and_counts_dropoff() {
        let old = session("a");
        let mut new = old.clone();
        new.apply(&sample(), Command::Cancel, 10).unwrap();
        let ws = plan("a", Some((&old, 1)), After::Stored(&new));
        assert!(matches!(&ws.active[..], [ActiveWrite::Release { .. }]));
        assert_eq!(
            counters(&ws),
            BTreeMap::from([
                ("abandoned".into(), 1),
                ("active".into(), -1),
                ("dropoff:kind".into(), 1)
            ])
        );
    }

    #[test]
    fn expiry_of_an_active_team_session_counts_team_abandoned() {
        let mut old = session("a");
        old.team = Some(TeamState::default());
        let ws = plan("a", Some((&old, 1)), After::Expired);
        assert_eq!(ws.records[0].new, None);
        assert_eq!(
            counters(&ws),
            BTreeMap::from([("active".into(), -1), ("team:abandoned".into(), 1)])
        );
        assert!(ws.owners.contains(&OwnerWrite::Remove {
            owner: "u".into(),
            id: "a".into()
        }));
    }

    #[test]
    fn forgetting_is_not_abandoning() {
        let old = session("a");
        let ws = plan("a", Some((&old, 1)), After::Deleted);
        assert_eq!(counters(&ws), BTreeMap::from([("active".into(), -1)]));
    }

    #[test]
    fn stats_sum_the_shards() {
        let s = stats_from_counters(vec![
            ("started".to_string(), 2),
            ("started".to_string(), 3),
            ("active".to_string(), 1),
            ("outcome:flask".to_string(), 4),
            ("dropoff:kind".to_string(), 1),
        ]);
        assert_eq!((s.started, s.active), (5, 1));
        assert_eq!(s.outcomes.get("flask"), Some(&4));
        assert_eq!(s.dropoff.get("kind"), Some(&1));
    }

    #[test]
    fn leases_expire_and_renew() {
        let l = Lease {
            holder: "a".into(),
            until: 100,
        };
        assert!(l.available_to("a", 50));
        assert!(!l.available_to("b", 50));
        assert!(l.available_to("b", 100));
        assert_eq!(Lease::decode(&l.encode()), Some(l));
        assert_eq!(Lease::decode(b"junk"), None);
    }

    fn arb_status() -> impl Strategy<Value = Status> {
        prop_oneof![Just(Status::Active), Just(Status::Completed), Just(Status::Cancelled)]
    }

    fn arb_session() -> impl Strategy<Value = Session> {
        (
            arb_status(),
            any::<bool>(),
            -5i64..5,
            proptest::option::of("[a-z]{1,6}"),
        )
            .prop_map(|(status, team, touched, current)| {
                let mut s = session("x");
                s.status = status;
                s.updated_at = touched;
                s.current = current;
                if team {
                    s.team = Some(TeamState::default());
                }
                s
            })
    }

    proptest! {
        #[test]
        fn expiry_keys_sort_like_their_fields(a in any::<i64>(), b in any::<i64>(), team in any::<bool>(), id in "[a-f0-9]{0,16}") {
            let kind = if team { Kind::Team } else { Kind::Private };
            let ka = ExpiryKey { kind, touched: a, id: id.clone() };
            let kb = ExpiryKey { kind, touched: b, id: id.clone() };
            prop_assert_eq!(ka.to_bytes().cmp(&kb.to_bytes()), a.cmp(&b));
            prop_assert_eq!(ExpiryKey::from_bytes(&ka.to_bytes()), Some(ka.clone()));
            prop_assert!(ExpiryKey::bound(kind, a) <= ka.to_bytes());
        }

        #[test]
        fn shards_are_in_range(id in ".{0,40}") {
            prop_assert!(shard_of(&id) < COUNTER_SHARDS);
        }

        /// Whatever the path of a session (created, changed any number of
        /// times, then deleted or expired), the active counter returns to 0,
        /// the active index is claimed at most once and released iff claimed,
        /// and the expiry index ends empty.
        #[test]
        fn index_and_counter_effects_balance(
            first in arb_session(),
            rest in proptest::collection::vec(arb_session(), 0..6),
            expire in any::<bool>(),
        ) {
            let mut active = 0i64;
            let mut claims = 0i32;
            let mut expiry: std::collections::BTreeSet<ExpiryKey> = Default::default();
            let mut apply = |ws: &WriteSet| {
                for c in &ws.counters {
                    if c.name == counter::ACTIVE { active += c.delta; }
                }
                for a in &ws.active {
                    match a { ActiveWrite::Claim { .. } => claims += 1, ActiveWrite::Release { .. } => claims -= 1 }
                }
                for e in &ws.expiry {
                    match e {
                        ExpiryWrite::Add(k) => assert!(expiry.insert(k.clone())),
                        ExpiryWrite::Remove(k) => assert!(expiry.remove(k)),
                    }
                }
            };
            apply(&plan_start(&first, None));
            let mut prev = first;
            for (v, next) in rest.into_iter().enumerate() {
                // The store never turns a finished session active again.
                let next = if prev.status != Status::Active { Session { status: prev.status, ..next } } else { next };
                apply(&plan("x", Some((&prev, v as u64 + 1)), After::Stored(&next)));
                prev = next;
            }
            apply(&plan("x", Some((&prev, 99)), if expire { After::Expired } else { After::Deleted }));
            prop_assert_eq!(active, 0);
            prop_assert_eq!(claims, 0);
            prop_assert!(expiry.is_empty());
        }
    }
}
