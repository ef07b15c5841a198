//! The state stores, one suite run against both: SQLite in a temporary directory and forewarn's
//! own database on the real ClickHouse engine (tests/support). Each test opens two handles on the
//! same store, as two processes would, so what one appends the other must read back.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use forewarn::findings::{Finding, FindingWindow, Severity, Signal, Status};
use forewarn::state::lifecycle::{self, LifecyclePolicy, RunContext};
use forewarn::state::{
    AnnouncementKind, AnyStore, ClickHouseStore, EventKind, Matcher, NewEvent, Silence,
    SqliteStore, StateStore,
};

const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

/// Two handles on one store, and what keeps it alive.
struct Fixture {
    store: Arc<AnyStore>,
    other: Arc<AnyStore>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    ClickHouse,
}

impl Backend {
    async fn open(self) -> Fixture {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("state.sqlite");
                let store = SqliteStore::open(&path).await.unwrap();
                let other = SqliteStore::open(&path).await.unwrap();
                Fixture {
                    store: Arc::new(AnyStore::Sqlite(store)),
                    other: Arc::new(AnyStore::Sqlite(other)),
                    _dir: Some(dir),
                }
            }
            Backend::ClickHouse => {
                let config = support::server().fresh_database().await;
                let state_database = format!("{}_state", config.database.clone().unwrap());
                let store = ClickHouseStore::connect(config.clone(), &state_database)
                    .await
                    .unwrap();
                let other = ClickHouseStore::connect(config, &state_database)
                    .await
                    .unwrap();
                Fixture {
                    store: Arc::new(AnyStore::ClickHouse(Box::new(store))),
                    other: Arc::new(AnyStore::ClickHouse(Box::new(other))),
                    _dir: None,
                }
            }
        }
    }
}

/// Generates `NAME::sqlite` and `NAME::clickhouse` from one `async fn NAME(Fixture)`.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite.open().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn clickhouse() {
                super::$name(super::Backend::ClickHouse.open().await).await
            }
        }
    )*};
}

both_stores!(
    appended_events_read_back_in_order,
    episodes_are_derived_from_the_history,
    the_outbox_delivers_each_key_once,
    silences_are_active_until_they_end_or_expire,
    one_fingerprint_has_its_own_timeline,
    of_two_racing_claims_exactly_one_wins,
);

fn finding(pod: &str, severity: Severity, at: OffsetDateTime) -> Finding {
    let mut entity = BTreeMap::new();
    entity.insert("namespace".to_string(), "shop".to_string());
    entity.insert("pod".to_string(), pod.to_string());
    Finding::new(
        "memory-pressure",
        Signal::MemoryPressure,
        severity,
        Status::Firing,
        entity,
        at,
        FindingWindow {
            from: at - Duration::hours(1),
            to: at,
        },
        format!("{pod} is running out of memory"),
        Default::default(),
        None,
    )
}

fn event(job: &str, at: OffsetDateTime, kind: EventKind, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        at,
        job: job.into(),
        run_id: format!("{job}-{}", at.unix_timestamp()),
        kind,
        fingerprint: None,
        payload,
    }
}

/// One scheduled run: read the open episodes, decide, append what was decided.
async fn run(
    store: &AnyStore,
    job: &str,
    findings: &[Finding],
    now: OffsetDateTime,
) -> lifecycle::Step {
    let open = store.open_episodes(job).await.unwrap();
    let silences = store.silences(now).await.unwrap();
    let run_id = format!("{job}-{}", now.unix_timestamp());
    let ctx = RunContext {
        job,
        run_id: &run_id,
        now,
    };
    let step = lifecycle::step(&open, findings, &silences, ctx, &LifecyclePolicy::default());
    store.append(&step.events).await.unwrap();
    step
}

async fn appended_events_read_back_in_order(fixture: Fixture) {
    // A time below the microsecond is kept to the microsecond (ClickHouse's DateTime64(6)).
    let at = T0 + Duration::nanoseconds(123_456_789);
    let mut failed = event(
        "prod",
        at,
        EventKind::NotificationFailed {
            key: "k1".into(),
            receiver: "slack".into(),
            attempt: 3,
            error: "HTTP 503 from the Slack webhook".into(),
        },
        serde_json::json!({"nested": {"list": [1, 2.5, "three"], "none": null}}),
    );
    failed.fingerprint = Some("00ff00ff00ff00ff".into());
    let events = vec![
        event("prod", at, EventKind::RunStarted, serde_json::Value::Null),
        failed,
        event(
            "prod",
            at + Duration::seconds(1),
            EventKind::RunFinished {
                outcome: forewarn::state::RunOutcome::Completed,
            },
            serde_json::Value::Null,
        ),
    ];
    fixture.store.append(&events).await.unwrap();
    fixture
        .store
        .append(&[event(
            "staging",
            at,
            EventKind::RunStarted,
            serde_json::Value::Null,
        )])
        .await
        .unwrap();

    let read = fixture.other.events_for_job("prod").await.unwrap();
    assert_eq!(read.len(), 3);
    assert!(read.windows(2).all(|w| w[0].seq < w[1].seq), "{read:?}");
    for (stored, appended) in read.iter().zip(&events) {
        assert_eq!(stored.at, appended.at - Duration::nanoseconds(789));
        assert_eq!(stored.job, appended.job);
        assert_eq!(stored.run_id, appended.run_id);
        assert_eq!(stored.kind, appended.kind);
        assert_eq!(stored.fingerprint, appended.fingerprint);
        assert_eq!(stored.payload, appended.payload);
    }
    assert_eq!(read[2].at, T0 + Duration::microseconds(1_123_456));
    let staging = fixture.other.events_for_job("staging").await.unwrap();
    assert_eq!(staging.len(), 1);
    assert!(fixture
        .other
        .events_for_job("dev")
        .await
        .unwrap()
        .is_empty());
}

async fn episodes_are_derived_from_the_history(fixture: Fixture) {
    let cart = finding("cart-1", Severity::Warning, T0);
    let first = run(&fixture.store, "prod", std::slice::from_ref(&cart), T0).await;
    assert_eq!(first.announcements.len(), 1);
    assert_eq!(first.announcements[0].kind, AnnouncementKind::New);

    // The other handle (the next run's pod) sees the episode and does not announce it again.
    let at = T0 + Duration::minutes(5);
    let again = finding("cart-1", Severity::Warning, at);
    let second = run(&fixture.other, "prod", &[again], at).await;
    assert!(
        second.announcements.is_empty(),
        "{:?}",
        second.announcements
    );

    let open = fixture.store.open_episodes("prod").await.unwrap();
    assert_eq!(open.len(), 1);
    let episode = &open[0];
    assert_eq!(episode.fingerprint, cart.id);
    assert_eq!(
        episode.episode_id,
        first.announcements[0].episode.episode_id
    );
    assert_eq!(episode.first_seen_at, T0);
    assert_eq!(episode.last_seen_at, at);
    assert_eq!(episode.last_announced_at, Some(T0));
    assert_eq!(episode.announced_severity, Some(Severity::Warning));
    assert_eq!(episode.finding.evaluated_at, at);
    assert_eq!(episode.entity["pod"], "cart-1");
    assert!(fixture
        .store
        .open_episodes("staging")
        .await
        .unwrap()
        .is_empty());

    // A rise in severity is announced at once; quiet for resolve_after resolves it.
    let at = T0 + Duration::minutes(10);
    let rise = run(
        &fixture.store,
        "prod",
        &[finding("cart-1", Severity::Critical, at)],
        at,
    )
    .await;
    assert_eq!(rise.announcements[0].kind, AnnouncementKind::Escalated);
    let at = T0 + Duration::minutes(25);
    let resolved = run(&fixture.other, "prod", &[], at).await;
    assert_eq!(resolved.announcements.len(), 1);
    assert_eq!(resolved.announcements[0].kind, AnnouncementKind::Resolved);
    assert!(fixture
        .store
        .open_episodes("prod")
        .await
        .unwrap()
        .is_empty());
}

async fn the_outbox_delivers_each_key_once(fixture: Fixture) {
    let store = &fixture.store;
    let queued = |key: &str| {
        event(
            "prod",
            T0,
            EventKind::NotificationQueued {
                key: key.into(),
                receiver: "slack".into(),
            },
            serde_json::json!({"text": format!("message {key}")}),
        )
    };
    let failed = |key: &str, attempt| {
        event(
            "prod",
            T0,
            EventKind::NotificationFailed {
                key: key.into(),
                receiver: "slack".into(),
                attempt,
                error: "HTTP 503".into(),
            },
            serde_json::Value::Null,
        )
    };
    let delivered = |key: &str| {
        event(
            "prod",
            T0,
            EventKind::NotificationDelivered {
                key: key.into(),
                receiver: "slack".into(),
            },
            serde_json::Value::Null,
        )
    };
    store
        .append(&[queued("a"), queued("b"), failed("b", 1)])
        .await
        .unwrap();
    let outbox = fixture.other.outbox("prod").await.unwrap();
    let keys: Vec<&str> = outbox.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(outbox[0].payload["text"], "message a");
    assert_eq!(
        (outbox[1].attempts, outbox[1].last_error.as_deref()),
        (1, Some("HTTP 503"))
    );

    store.append(&[delivered("a")]).await.unwrap();
    // Queued again after delivery (a re-run): still never sent twice.
    store.append(&[queued("a")]).await.unwrap();
    let outbox = fixture.other.outbox("prod").await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].key, "b");
    assert!(fixture.other.outbox("staging").await.unwrap().is_empty());

    store
        .append(&[failed("b", 2), delivered("b")])
        .await
        .unwrap();
    assert!(fixture.other.outbox("prod").await.unwrap().is_empty());
}

async fn silences_are_active_until_they_end_or_expire(fixture: Fixture) {
    let shop = Silence::new(
        vec![
            Matcher::parse("namespace=shop").unwrap(),
            Matcher::parse("rule=memory-pressure").unwrap(),
        ],
        T0,
        T0 + Duration::hours(2),
        "planned migration",
        "ana",
    )
    .unwrap();
    let later = Silence::new(
        vec![Matcher::parse("cluster=prod").unwrap()],
        T0 + Duration::hours(1),
        T0 + Duration::hours(3),
        "",
        "ben",
    )
    .unwrap();
    // Silences are added from the CLI, not by a job's run: they apply to every job.
    for silence in [&shop, &later] {
        let kind = EventKind::SilenceAdded {
            silence: silence.clone(),
        };
        fixture
            .store
            .append(&[event("silence", T0, kind, serde_json::Value::Null)])
            .await
            .unwrap();
    }
    let ids =
        |silences: Vec<Silence>| -> Vec<String> { silences.into_iter().map(|s| s.id).collect() };
    let other = &fixture.other;
    assert!(other
        .silences(T0 - Duration::minutes(1))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(other.silences(T0 + Duration::minutes(30)).await.unwrap()),
        std::slice::from_ref(&shop.id)
    );
    let both = other.silences(T0 + Duration::minutes(90)).await.unwrap();
    assert_eq!(both, [shop.clone(), later.clone()]);

    let expired_at = T0 + Duration::minutes(100);
    let kind = EventKind::SilenceExpired {
        silence_id: shop.id.clone(),
    };
    fixture
        .store
        .append(&[event("silence", expired_at, kind, serde_json::Value::Null)])
        .await
        .unwrap();
    assert_eq!(
        ids(other.silences(T0 + Duration::minutes(95)).await.unwrap()).len(),
        2
    );
    assert_eq!(
        ids(other.silences(expired_at).await.unwrap()),
        std::slice::from_ref(&later.id)
    );
    assert!(other
        .silences(T0 + Duration::hours(3))
        .await
        .unwrap()
        .is_empty());

    // A run of a job consults them: the silenced finding is recorded, not announced.
    let step = run(
        other,
        "prod",
        &[finding("cart-1", Severity::Critical, T0)],
        T0,
    )
    .await;
    assert!(step.announcements.is_empty());
    let open = fixture.store.open_episodes("prod").await.unwrap();
    assert_eq!(open[0].silenced_by, Some(shop.id.clone()));
    // Positive control: the same finding after the silence was expired is announced.
    let step = run(
        other,
        "staging",
        &[finding("cart-1", Severity::Critical, expired_at)],
        expired_at,
    )
    .await;
    assert_eq!(step.announcements.len(), 1);
}

async fn one_fingerprint_has_its_own_timeline(fixture: Fixture) {
    let cart = finding("cart-1", Severity::Warning, T0);
    let web = finding("web-1", Severity::Warning, T0);
    run(&fixture.store, "prod", &[cart.clone(), web.clone()], T0).await;
    let at = T0 + Duration::minutes(5);
    run(
        &fixture.store,
        "prod",
        &[finding("cart-1", Severity::Warning, at)],
        at,
    )
    .await;
    let at = T0 + Duration::minutes(30);
    run(&fixture.store, "prod", &[], at).await;

    let timeline = fixture.other.episode_history(&cart.id).await.unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        ["episode_opened", "episode_updated", "episode_resolved"]
    );
    assert!(timeline
        .iter()
        .all(|e| e.fingerprint.as_deref() == Some(cart.id.as_str())));
    let payload: Finding = serde_json::from_value(timeline[0].payload.clone()).unwrap();
    assert_eq!(payload, cart);
    let web_kinds: Vec<&str> = fixture
        .other
        .episode_history(&web.id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(web_kinds, ["episode_opened", "episode_resolved"]);
    assert!(fixture
        .other
        .episode_history("0000000000000000")
        .await
        .unwrap()
        .is_empty());
}

async fn of_two_racing_claims_exactly_one_wins(fixture: Fixture) {
    for round in 0..20 {
        let slot = format!("2026-03-01T12:{round:02}:00Z");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [("run-a", &fixture.store), ("run-b", &fixture.other)]
            .into_iter()
            .map(|(run_id, store)| {
                let (store, barrier, slot) =
                    (Arc::clone(store), Arc::clone(&barrier), slot.clone());
                tokio::spawn(async move {
                    barrier.wait();
                    let won = store.claim_run("prod", run_id, &slot).await.unwrap();
                    (run_id, won)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            let (run_id, won) = racer.await.unwrap();
            if won {
                winners.push(run_id);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];
        let loser = if winner == "run-a" { "run-b" } else { "run-a" };
        // Asking again changes nothing: the winner keeps it, the loser still loses.
        assert!(fixture
            .other
            .claim_run("prod", winner, &slot)
            .await
            .unwrap());
        assert!(!fixture.store.claim_run("prod", loser, &slot).await.unwrap());
        // Positive control: another job's claim of the same slot is its own.
        assert!(fixture
            .store
            .claim_run("staging", loser, &slot)
            .await
            .unwrap());
    }
}

/// The ClickHouse store writes only its own database: the telemetry database stays untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_store_writes_only_its_own_database() {
    let config = support::server().fresh_database().await;
    let telemetry = config.database.clone().unwrap();
    let state_database = format!("{telemetry}_forewarn");
    let store = ClickHouseStore::connect(config.clone(), &state_database)
        .await
        .unwrap();
    store
        .append(&[event(
            "prod",
            T0,
            EventKind::RunStarted,
            serde_json::Value::Null,
        )])
        .await
        .unwrap();
    assert!(store.claim_run("prod", "run-a", "slot").await.unwrap());
    let admin = config.writable_client();
    let tables = |database: String| {
        let admin = admin.clone();
        async move {
            admin
                .query("SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name")
                .param("db", database)
                .fetch_all::<String>()
                .await
                .unwrap()
        }
    };
    assert_eq!(tables(state_database.clone()).await, ["claims", "history"]);
    assert!(tables(telemetry).await.is_empty());
    let rows: u64 = admin
        .query(&format!(
            "SELECT count() FROM `{state_database}`.history WHERE kind = 'run_started'"
        ))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rows, 1);

    // The losing claim is dropped by the server (insert_deduplication_token), not merely
    // outranked when read back: the slot holds one row. Another slot is a row of its own.
    assert!(!store.claim_run("prod", "run-b", "slot").await.unwrap());
    assert!(store.claim_run("prod", "run-b", "slot-2").await.unwrap());
    let claims: Vec<(String, String)> = admin
        .query(&format!(
            "SELECT slot, run_id FROM `{state_database}`.claims ORDER BY slot"
        ))
        .fetch_all()
        .await
        .unwrap();
    let expected =
        [("slot", "run-a"), ("slot-2", "run-b")].map(|(s, r)| (s.to_string(), r.to_string()));
    assert_eq!(claims, expected);

    let bad = ClickHouseStore::connect(config, "forewarn; DROP TABLE x").await;
    assert!(matches!(
        bad,
        Err(forewarn::state::StateError::DatabaseName { .. })
    ));
}
