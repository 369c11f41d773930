//! Differential conformance: the mock ZooKeeper against a real ZooKeeper 3.8 server.
//!
//! Each test starts a standalone server on 127.0.0.1 (Debian's package `zookeeper`,
//! see `real/harness.rs`) and plays the same operations against it, through the
//! `zookeeper-client` crate, and against the mock; the normalized results must be
//! equal: error codes, the deterministic Stat fields (version, cversion, aversion,
//! numChildren, dataLength, ephemeral owner, zxids relative to the sequence's root),
//! child lists, sequential names, watch events, and the final tree.
//!
//! Without a server the tests print one line naming the install command and pass,
//! unless `ZKWAL_REQUIRE_REAL_ZK=1`, which makes them fail.
//! `ZKWAL_CONFORMANCE_CASES` sets the number of generated sequences (default 1000);
//! `ZKWAL_CONFORMANCE_TRACE=1` prints both traces of every sequence.

mod real;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use proptest::test_runner::{Config, TestCaseError, TestRunner};

use real::harness::{server_or_skip, TICK_MS};
use real::mock_client::MockZk;
use real::model::{
    diff, listing, play, sequence_strategy, CreateMode, ErrorCode, EvKind, MOp, Op, Outcome,
    Payload, SessState, Trace, WatchEv, Zk,
};
use real::raw::{RawMock, RawReal, RawServer};
use real::real_client::RealZk;
use zkwal_zk::Request;

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    )
}

/// What the generated sequences exercised, counted on the real server's results.
#[derive(Default)]
struct Coverage(BTreeMap<String, usize>);

impl Coverage {
    fn add(&mut self, seq: &[Op], t: &Trace) {
        let mut bump = |k: String| *self.0.entry(k).or_default() += 1;
        for (op, step) in seq.iter().zip(&t.steps) {
            match &step.outcome {
                Outcome::Err(e) => bump(format!("error {e:?}")),
                Outcome::MultiFailed(Some(i), e) => {
                    bump(format!("multi failed at op {i} with {e:?}"))
                }
                Outcome::MultiFailed(None, e) => bump(format!("multi failed whole with {e:?}")),
                Outcome::Multi(_) => bump("multi ok".into()),
                Outcome::Created(p, st) => {
                    if st.owner.is_some() {
                        bump("ephemeral created".into());
                    }
                    if p.contains("s-") {
                        bump("sequential created".into());
                    }
                }
                Outcome::Closed => bump("session closed".into()),
                Outcome::Pipeline(rs) => {
                    for r in rs {
                        bump(match r {
                            Outcome::Err(e) => format!("pipelined setData {e:?}"),
                            _ => "pipelined setData ok".into(),
                        });
                    }
                }
                _ => {}
            }
            match op {
                Op::Create {
                    data: Payload::Limit(x),
                    ..
                }
                | Op::SetData {
                    data: Payload::Limit(x),
                    ..
                } => bump(format!("request at limit +{x}")),
                Op::MultiAtLimit { extra, .. } => bump(format!("multi at limit +{extra}")),
                _ => {}
            }
            for (_, evs) in &step.events {
                for e in evs {
                    bump(format!("event {:?}", e.kind));
                }
            }
        }
    }
}

/// Time spent playing sequences against each, in µs.
static MOCK_US: AtomicUsize = AtomicUsize::new(0);
static REAL_US: AtomicUsize = AtomicUsize::new(0);

/// Plays `seq` against both under a fresh root; Err describes the first difference.
fn compare(
    rt: &Arc<tokio::runtime::Runtime>,
    addr: &str,
    n: usize,
    seq: &[Op],
    via_proxy: bool,
) -> Result<Trace, String> {
    // Same length for every root: request sizes (the 1 MB limit) depend on it.
    let root = format!("/c{n:07}");
    let t0 = Instant::now();
    let mut mock = MockZk::new(TICK_MS);
    let m = play(&mut mock, &root, seq);
    let t1 = Instant::now();
    let mut real = RealZk::new(rt.clone(), addr.to_string());
    real.via_proxy = via_proxy;
    let r = play(&mut real, &root, seq);
    let t2 = Instant::now();
    MOCK_US.fetch_add((t1 - t0).as_micros() as usize, Ordering::Relaxed);
    REAL_US.fetch_add((t2 - t1).as_micros() as usize, Ordering::Relaxed);
    if std::env::var_os("ZKWAL_CONFORMANCE_TRACE").is_some() {
        eprintln!("{root}:\n{}mock: {m:#?}\nreal: {r:#?}", listing(seq));
    }
    match diff(seq, &m, &r) {
        None => Ok(r),
        Some(d) => Err(format!("{d}sequence:\n{}", listing(seq))),
    }
}

#[test]
fn generated_sequences_match_a_real_server() {
    let Some(server) = server_or_skip("generated_sequences_match_a_real_server") else {
        return;
    };
    let cases: u32 = std::env::var("ZKWAL_CONFORMANCE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = runtime();
    let addr = server.connect_string();
    let counter = AtomicUsize::new(0);
    let ops = AtomicUsize::new(0);
    let started = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let coverage = Mutex::new(Coverage::default());
    let result = runner.run(&sequence_strategy(), |seq| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        ops.fetch_add(seq.len(), Ordering::Relaxed);
        let t = compare(&rt, &addr, n, &seq, false).map_err(TestCaseError::fail)?;
        coverage.lock().expect("coverage").add(&seq, &t);
        Ok(())
    });
    let secs = started.elapsed().as_secs_f64();
    if let Err(e) = result {
        panic!(
            "mock and real ZooKeeper differ (after {} sequences, {secs:.1} s):\n{e}\nserver log:\n{}",
            counter.load(Ordering::Relaxed),
            server.log_tail()
        );
    }
    println!(
        "conformance: {} generated sequences ({} operations) matched a real ZooKeeper 3.8 in {secs:.1} s \
         (mock {:.1} s, real server {:.1} s)",
        counter.load(Ordering::Relaxed),
        ops.load(Ordering::Relaxed),
        MOCK_US.load(Ordering::Relaxed) as f64 / 1e6,
        REAL_US.load(Ordering::Relaxed) as f64 / 1e6,
    );
    let coverage = coverage.into_inner().expect("coverage");
    println!(
        "conformance: exercised {}",
        coverage
            .0
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Hand-written sequences for the cases the generator reaches only now and then.
#[test]
fn fixed_sequences_match_a_real_server() {
    let Some(server) = server_or_skip("fixed_sequences_match_a_real_server") else {
        return;
    };
    let rt = runtime();
    let addr = server.connect_string();
    // First, on the fresh server.
    let mut mock = MockZk::new(TICK_MS);
    let m = built_in_nodes(&mut mock);
    let mut real = RealZk::new(rt.clone(), addr.clone());
    let r = built_in_nodes(&mut real);
    drop(real);
    if m != r {
        let lines: Vec<String> = m
            .iter()
            .zip(&r)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  mock: {a}\n  real: {b}"))
            .collect();
        panic!("built-in nodes differ:\n{}", lines.join("\n"));
    }
    let create = |s, path: &str, data, mode| Op::Create {
        s,
        path: path.into(),
        data,
        mode,
    };
    let set = |s, path: &str, data, version| Op::SetData {
        s,
        path: path.into(),
        data,
        version,
    };
    let get = |s, path: &str, watch| Op::GetData {
        s,
        path: path.into(),
        watch,
    };
    let children = |s, path: &str, watch| Op::GetChildren {
        s,
        path: path.into(),
        watch,
    };
    let small = Payload::Small(3);
    use CreateMode::*;
    let seqs: Vec<Vec<Op>> = vec![
        // Data at and just over the request limit, for create and setData.
        vec![
            create(0, "/a", Payload::Limit(0), Persistent),
            get(1, "/a", true),
            create(0, "/b", Payload::Limit(1), Persistent),
            set(0, "/a", Payload::Limit(1), -1),
            set(0, "/a", Payload::Limit(0), 0),
            get(2, "/a", false),
            children(0, "/", false),
        ],
        // A multi over the request limit (its chunks of data spread over several
        // ops, as a snapshot publication would send them) is refused as a setData
        // is: the server drops the connection before reading it, the client sees
        // ConnectionLoss for the whole multi, nothing is applied (no zxid taken: the
        // next write's zxids show it; no watch fires), and the session is kept (its
        // ephemeral stays, its watches are re-armed on the new connection and fire).
        // The same multi at the limit is applied by both.
        {
            let ops = |v: i32| {
                vec![
                    MOp::Check {
                        path: "/a".into(),
                        version: v,
                    },
                    MOp::SetData {
                        path: "/a".into(),
                        data: b"x".to_vec(),
                        version: v,
                    },
                    MOp::Create {
                        path: "/c".into(),
                        data: vec![],
                        mode: Persistent,
                    },
                    MOp::Create {
                        path: "/f/d".into(),
                        data: vec![],
                        mode: Persistent,
                    },
                    MOp::Delete {
                        path: "/b".into(),
                        version: -1,
                    },
                ]
            };
            vec![
                create(0, "/a", small, Persistent),
                create(0, "/b", small, Persistent),
                create(0, "/f", small, Persistent),
                create(1, "/e", small, Ephemeral),
                get(1, "/a", true),
                children(1, "/", true),
                Op::Exists {
                    s: 1,
                    path: "/c".into(),
                    watch: true,
                },
                Op::MultiAtLimit {
                    s: 1,
                    ops: ops(0),
                    extra: 1,
                },
                get(2, "/a", false),
                children(2, "/", false),
                Op::Exists {
                    s: 1,
                    path: "/e".into(),
                    watch: false,
                },
                set(0, "/a", small, 0),
                Op::MultiAtLimit {
                    s: 1,
                    ops: ops(1),
                    extra: 1,
                },
                Op::MultiAtLimit {
                    s: 1,
                    ops: ops(1),
                    extra: 0,
                },
                get(2, "/a", false),
                get(2, "/f/d", false),
                children(2, "/", false),
            ]
        },
        // Sequential names count creates, not visible children; both modes share it.
        vec![
            create(0, "/s-", small, PersistentSequential),
            create(1, "/s-", small, EphemeralSequential),
            Op::Delete {
                s: 0,
                path: "/s-0000000000".into(),
                version: -1,
            },
            create(2, "/s-", small, PersistentSequential),
            create(0, "/a", small, Ephemeral),
            create(0, "/a/b", small, Persistent),
            children(2, "/", true),
            Op::Close { s: 1 },
            children(0, "/", false),
            get(1, "/s-0000000002", false),
        ],
        // A multi failing in the middle changes nothing; a good one takes one zxid.
        vec![
            create(0, "/a", small, Persistent),
            get(1, "/a", true),
            Op::Multi {
                s: 0,
                ops: vec![
                    MOp::SetData {
                        path: "/a".into(),
                        data: b"x".to_vec(),
                        version: 0,
                    },
                    MOp::Check {
                        path: "/a".into(),
                        version: 0,
                    },
                    MOp::Create {
                        path: "/a/b".into(),
                        data: vec![],
                        mode: Persistent,
                    },
                ],
            },
            Op::Multi {
                s: 0,
                ops: vec![
                    MOp::Create {
                        path: "/a/s-".into(),
                        data: vec![],
                        mode: EphemeralSequential,
                    },
                    MOp::SetData {
                        path: "/a".into(),
                        data: b"x".to_vec(),
                        version: 0,
                    },
                    MOp::Check {
                        path: "/a".into(),
                        version: 1,
                    },
                    MOp::Delete {
                        path: "/a/s-0000000000".into(),
                        version: -1,
                    },
                ],
            },
            get(0, "/a", false),
            Op::Delete {
                s: 0,
                path: "/a".into(),
                version: 5,
            },
            Op::Delete {
                s: 0,
                path: "/a".into(),
                version: 1,
            },
        ],
        // Path edge cases: a sequential create may end in '/', nothing else may.
        vec![
            create(0, "/a", small, Persistent),
            create(0, "/a/", small, PersistentSequential),
            create(1, "/a/", small, EphemeralSequential),
            create(0, "/a/", small, Persistent),
            create(0, "/a//b", small, Persistent),
            // Not "/a/." or "/a/..": zookeeper-client 0.11 sends those to the server,
            // the Java client and the mock refuse them before sending (see README).
            Op::Exists {
                s: 0,
                path: "/a/".into(),
                watch: true,
            },
            children(0, "/a", true),
            Op::Close { s: 1 },
            children(0, "/a", false),
        ],
        // A dropped connection (oversized request) keeps the session and its watches:
        // the client re-arms them on the new connection.
        vec![
            create(0, "/a", small, Persistent),
            create(0, "/b", small, Ephemeral),
            get(0, "/a", true),
            Op::Exists {
                s: 0,
                path: "/c".into(),
                watch: true,
            },
            children(0, "/", true),
            set(0, "/b", Payload::Limit(1), -1),
            set(1, "/a", small, -1),
            create(1, "/c", small, Persistent),
            get(1, "/b", false),
            Op::Close { s: 0 },
            children(1, "/", false),
        ],
        // Applied, but the reply is lost: setData requests pipelined before an
        // oversized request on the same connection are applied (the watch fires, the
        // version moves), yet the server closes the connection before it answers
        // them. On a real server that is a race between the commit and reading the
        // next request's length; a 1 MB write first (its log append and fsync take a
        // while) and a proxy holding the requests until all are sent make the server
        // lose every reply each time. The mock commits `commit_latency_ms` after a
        // write arrives and the requests arrive at the same instant.
        vec![
            create(0, "/a", small, Persistent),
            get(1, "/a", true),
            Op::Pipeline {
                s: 0,
                sets: vec![
                    ("/a".into(), Payload::Limit(0), -1),
                    ("/a".into(), Payload::Small(5), 1),
                    ("/b".into(), Payload::Limit(1), -1),
                ],
            },
            get(0, "/a", false),
            // A failed write loses its error reply the same way (and took a zxid).
            // Not a request after the oversized one: zookeeper-client re-sends what it
            // had not yet written on the next connection, the Java client and the
            // mock fail it with ConnectionLoss (see README).
            Op::Pipeline {
                s: 2,
                sets: vec![
                    ("/a".into(), Payload::Limit(0), -1),
                    ("/a".into(), Payload::Small(6), 7),
                    ("/b".into(), Payload::Limit(1), -1),
                ],
            },
            get(2, "/a", true),
            create(2, "/c", small, Persistent),
            Op::Pipeline {
                s: 1,
                sets: vec![
                    ("/a".into(), Payload::Small(7), 3),
                    ("/a".into(), Payload::Limit(0), -1),
                ],
            },
        ],
        // Characters a path may not hold are refused by the client (no zxid);
        // their neighbours are fine. Sequential creates of "<parent>/." and
        // "<parent>/.." name nodes ".0000000000" and "..0000000001". An empty multi
        // takes no zxid; versions below -1 are not wildcards.
        {
            let mut v: Vec<Op> = vec![create(0, "/a", small, Persistent)];
            for c in [
                '\u{1}', '\u{1f}', '\u{7f}', '\u{9f}', '\u{e000}', '\u{f8ff}', '\u{fff0}',
                '\u{fffd}', '\u{ffff}',
            ] {
                v.push(create(0, &format!("/a/x{c}"), small, Persistent));
                v.push(get(1, &format!("/a/x{c}"), true));
                v.push(Op::Exists {
                    s: 2,
                    path: format!("/x{c}"),
                    watch: false,
                });
            }
            for c in ['\u{a0}', '\u{d7ff}', '\u{f900}', '\u{ffef}', 'é'] {
                v.push(create(0, &format!("/a/x{c}"), small, Persistent));
                v.push(get(1, &format!("/a/x{c}"), true));
            }
            v.extend([
                create(1, "/a/.", small, PersistentSequential),
                create(2, "/a/..", small, EphemeralSequential),
                create(0, "/a/", small, PersistentSequential),
                children(1, "/a", false),
                Op::Multi { s: 0, ops: vec![] },
                set(0, "/a", small, -2),
                Op::Delete {
                    s: 1,
                    path: "/a/x\u{a0}".into(),
                    version: -2,
                },
                Op::Multi {
                    s: 2,
                    ops: vec![MOp::Check {
                        path: "/a".into(),
                        version: -2,
                    }],
                },
                Op::Multi { s: 1, ops: vec![] },
                create(0, "/b", small, Persistent),
                // Outside the BMP: refused by the Java client and the mock (before
                // sending), sent by zookeeper-client, refused by the server (taking
                // a zxid): last, so the zxid is not seen (see README).
                create(0, "/a/x\u{1f600}", small, Persistent),
            ]);
            v
        },
    ];
    // The lost-reply sequence is a race on the real server (its commit against its
    // read of the next request's length); the held proxy wins it nearly always, but
    // not on a loaded machine. A sequence must match in one of three tries.
    const TRIES: usize = 3;
    for (n, seq) in seqs.iter().enumerate() {
        let mut last = None;
        for t in 0..TRIES {
            match compare(&rt, &addr, 9_000_000 + 100 * n + t, seq, true) {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            panic!(
                "fixed sequence {n}: mock and real differ ({TRIES} tries):\n{e}\nserver log:\n{}",
                server.log_tail()
            );
        }
    }
}

/// The built-in nodes of a fresh server, and what may be done to them: their Stat
/// (`/` cversion -1, `/zookeeper` -2, `/zookeeper/config` aversion -1), the
/// read-only `/zookeeper/config` (NoAuth, which takes a zxid), deleting them
/// (BadArguments). Absolute paths and zxids: only on a server nothing else used.
fn built_in_nodes<Z: Zk>(zk: &mut Z) -> Vec<String> {
    let mut out = Vec::new();
    let (s, _) = zk.open(4_000);
    let built_in = ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"];
    let read = |zk: &mut Z, out: &mut Vec<String>| {
        for p in built_in {
            let r = zk.get_data(s, p, None).map(|(d, st)| (d.len(), st));
            let c = zk.get_children(s, p, None).map(|(mut c, _)| {
                c.sort();
                c
            });
            out.push(format!("{p}: {r:?} {c:?}"));
        }
    };
    read(zk, &mut out);
    let mut log = |what: &str, r: String| out_push(&mut out, what, r);
    fn out_push(out: &mut Vec<String>, what: &str, r: String) {
        out.push(format!("{what}: {r}"));
    }
    log(
        "setData config",
        format!("{:?}", zk.set_data(s, "/zookeeper/config", b"x", -1)),
    );
    log(
        "setData config v5",
        format!("{:?}", zk.set_data(s, "/zookeeper/config", b"x", 5)),
    );
    log(
        "create config/x",
        format!(
            "{:?}",
            zk.create(s, "/zookeeper/config/x", b"", CreateMode::Persistent)
        ),
    );
    log(
        "multi setData config",
        format!(
            "{:?}",
            zk.multi(
                s,
                &[
                    MOp::Check {
                        path: "/zookeeper/config".into(),
                        version: 0
                    },
                    MOp::SetData {
                        path: "/zookeeper/config".into(),
                        data: vec![],
                        version: -1
                    }
                ]
            )
        ),
    );
    for p in ["/zookeeper/config", "/zookeeper/quota", "/zookeeper"] {
        log(&format!("delete {p}"), format!("{:?}", zk.delete(s, p, -1)));
    }
    log(
        "create /zookeeper/s-",
        format!(
            "{:?}",
            zk.create(s, "/zookeeper/s-", b"", CreateMode::PersistentSequential)
        ),
    );
    log(
        "delete /zookeeper/s-0000000000",
        format!("{:?}", zk.delete(s, "/zookeeper/s-0000000000", -1)),
    );
    log(
        "setData quota",
        format!("{:?}", zk.set_data(s, "/zookeeper/quota", b"q", -1)),
    );
    log(
        "create /x",
        format!("{:?}", zk.create(s, "/x", b"", CreateMode::Persistent)),
    );
    log("delete /x", format!("{:?}", zk.delete(s, "/x", -1)));
    log(
        "setData quota back",
        format!("{:?}", zk.set_data(s, "/zookeeper/quota", b"", -1)),
    );
    read(zk, &mut out);
    zk.close(s);
    out
}

/// What the expiry scenario observed.
#[derive(Debug, PartialEq, Eq)]
struct ExpiryTrace {
    timeout_ms: u64,
    /// B's view: events, then the root's children after the expiry.
    watcher_events: Vec<WatchEv>,
    children_after: Vec<String>,
    /// A's view once it can reach the service again.
    expired_state: SessState,
    expired_events: Vec<WatchEv>,
    op_after: Result<(), ErrorCode>,
}

/// Session A (through a link that can be cut) owns ephemerals that session B
/// watches; A is cut off until the service expires it. Returns the trace and how long
/// after the cut B saw the ephemeral go and how long after the link came back A
/// learnt that it expired (ms).
fn expiry_scenario<Z: Zk>(zk: &mut Z, root: &str, timeout_ms: u64) -> (ExpiryTrace, u64, u64) {
    let (admin, _) = zk.open(4_000);
    zk.create(admin, root, b"", CreateMode::Persistent)
        .expect("root");
    let (a, negotiated) = zk.open(timeout_ms);
    let (b, _) = zk.open(4_000);
    let p = |s: &str| format!("{root}/{s}");
    zk.create(a, &p("e"), b"x", CreateMode::Ephemeral)
        .expect("e");
    zk.create(a, &p("q-"), b"", CreateMode::EphemeralSequential)
        .expect("q-");
    zk.create(a, &p("p"), b"", CreateMode::Persistent)
        .expect("p");
    // A's own watches, B's watches on A's ephemerals and their parent.
    zk.get_data(a, &p("p"), Some(100)).expect("a watch p");
    zk.get_children(a, root, Some(101)).expect("a watch root");
    zk.exists(b, &p("e"), Some(200)).expect("b watch e");
    zk.get_data(b, &p("q-0000000001"), Some(201))
        .expect("b watch q");
    zk.get_children(b, root, Some(202)).expect("b watch root");
    let _ = zk.take_events(a);
    let _ = zk.take_events(b);
    zk.freeze(a, true);
    let cut_at = zk.now_ms();
    let mut waited = 0;
    let mut watcher_events = Vec::new();
    while !watcher_events
        .iter()
        .any(|e: &WatchEv| e.kind == EvKind::NodeDeleted)
    {
        assert!(waited < 20_000, "the ephemerals did not go within 20 s");
        zk.sleep_ms(10);
        waited = zk.now_ms() - cut_at;
        watcher_events.extend(zk.take_events(b));
    }
    // Let any straggling event arrive.
    zk.sleep_ms(100);
    watcher_events.extend(zk.take_events(b));
    for e in &mut watcher_events {
        e.path = match e.path.strip_prefix(root) {
            Some("") => "/".to_string(),
            Some(r) => r.to_string(),
            None => e.path.clone(),
        };
    }
    watcher_events.sort();
    let (mut children_after, _) = zk.get_children(b, root, None).expect("children");
    children_after.sort();
    zk.freeze(a, false);
    let thawed_at = zk.now_ms();
    while zk.state(a) == SessState::Connected {
        assert!(
            zk.now_ms() - thawed_at < 20_000,
            "A did not learn of its expiry within 20 s"
        );
        zk.sleep_ms(10);
    }
    let learned_ms = zk.now_ms() - thawed_at;
    let mut expired_events = zk.take_events(a);
    expired_events.sort();
    let op_after = zk.exists(a, root, None).map(|_| ());
    let expired_state = zk.state(a);
    zk.close(b);
    zk.close(admin);
    (
        ExpiryTrace {
            timeout_ms: negotiated,
            watcher_events,
            children_after,
            expired_state,
            expired_events,
            op_after,
        },
        waited,
        learned_ms,
    )
}

#[test]
fn session_expiry_matches_a_real_server() {
    let Some(server) = server_or_skip("session_expiry_matches_a_real_server") else {
        return;
    };
    let rt = runtime();
    let timeout_ms = 2_000;
    let root = "/expiry";
    let mut mock = MockZk::new(TICK_MS);
    let (m, m_ms, m_learn) = expiry_scenario(&mut mock, root, timeout_ms);
    let mut real = RealZk::new(rt.clone(), server.connect_string());
    real.via_proxy = true;
    let (r, r_ms, r_learn) = expiry_scenario(&mut real, root, timeout_ms);
    println!(
        "expiry: the ephemerals of a {timeout_ms} ms session went {m_ms} ms after the cut in the mock, \
         about {r_ms} ms on the real server (tickTime {TICK_MS} ms); the cut-off client learnt \
         it expired {m_learn} ms (mock) / {r_learn} ms (real) after its link came back"
    );
    if std::env::var_os("ZKWAL_CONFORMANCE_TRACE").is_some() {
        eprintln!("mock: {m:#?}\nreal: {r:#?}");
    }
    assert_eq!(m, r, "expiry differs (left: mock, right: real)");
    // The service expires between T and T + tickTime after the last contact (the
    // real one is observed through 10 ms polls and a scheduler, from a cut made a
    // moment after A's last contact: allow half a tick less and two ticks more).
    assert!(
        (timeout_ms..=timeout_ms + TICK_MS + 10).contains(&m_ms),
        "mock expiry after {m_ms} ms"
    );
    assert!(
        (timeout_ms - TICK_MS / 2..=timeout_ms + 3 * TICK_MS).contains(&r_ms),
        "real expiry after {r_ms} ms"
    );
    assert_eq!(m.expired_state, SessState::Expired);
    assert!(
        m.watcher_events
            .iter()
            .any(|e| e.kind == EvKind::NodeDeleted),
        "{m:?}"
    );
}

/// What the Java client sends and `zookeeper-client` refuses (or cannot send), played
/// on the wire against both servers: the reply's zxid (relative to the first) and
/// outcome of each request, in order.
fn raw_server_paths<S: RawServer>(s: &mut S) -> Vec<String> {
    let c = s.open(None, 0).unwrap_or_else(|e| panic!("connect: {e}"));
    let p = |path: &str| path.to_string();
    let create = |path: &str, mode| Request::Create {
        path: p(path),
        data: vec![],
        mode,
    };
    let get = |path: &str| Request::GetData {
        path: p(path),
        watch: false,
    };
    use zkwal_zk::CreateMode::*;
    let reqs = vec![
        create("/d", Persistent),
        // the Java client checks "/1": the server names a child of the root
        create("/", PersistentSequential),
        create("/", Persistent),
        // the Java client sends delete("/") (zookeeper-client refuses it)
        Request::Delete {
            path: p("/"),
            version: -1,
        },
        // outside the BMP: the server refuses the create, finds no node to read
        create("/x\u{1f600}", Persistent),
        get("/x\u{1f600}"),
        // the server checks no paths of reads, sync and delete
        get("/d/."),
        Request::Exists {
            path: p("/d/.."),
            watch: false,
        },
        Request::GetChildren {
            path: p("/d//x"),
            watch: false,
        },
        Request::Sync { path: p("/d/.") },
        Request::Delete {
            path: p("/d/."),
            version: -1,
        },
        Request::Delete {
            path: p("d"),
            version: -1,
        },
        create("/d/.", PersistentSequential),
        create("/d/..", PersistentSequential),
        // sent anyway (both clients answer it themselves)
        Request::Multi(vec![]),
        Request::SetData {
            path: p("/zookeeper/config"),
            data: vec![],
            version: -1,
        },
        Request::SetData {
            path: p("/d"),
            data: vec![],
            version: -2,
        },
        create("/e", Persistent),
    ];
    let mut out = Vec::new();
    let mut base = None;
    for r in &reqs {
        match s.call(c, r) {
            Some((z, res)) => {
                let b = *base.get_or_insert(z);
                out.push(format!("{r:?} -> zxid +{} {res:?}", z - b));
            }
            None => out.push(format!("{r:?} -> connection closed")),
        }
    }
    out
}

/// More watches than one packet holds (about 1.1 MB of paths): re-armed in one
/// SetWatches, the server drops the connection; in the mock client's batches (the
/// Java client's), they are accepted and fire.
fn raw_many_watches<S: RawServer>(s: &mut S) -> Vec<String> {
    let mut out = Vec::new();
    let path = |i: usize| format!("/w{}{i:04}", "x".repeat(1_000));
    let n = 1_100;
    let a = s.open(None, 0).expect("connect a");
    let b = s.open(None, 0).expect("connect b");
    let mut last = 0;
    for i in 0..n {
        let r = Request::Exists {
            path: path(i),
            watch: true,
        };
        let (z, res) = s.call(a, &r).expect("exists");
        assert_eq!(res, Err(ErrorCode::NoNode));
        last = last.max(z);
    }
    let exist: Vec<String> = (0..n).map(path).collect();
    s.drop_conn(a);
    // all in one message
    let a2 = s.open(Some(a), last).expect("reconnect");
    let whole = zkwal_zk::ClientBody::SetWatches {
        relative_zxid: last as u64,
        data: vec![],
        exist: exist.clone(),
        child: vec![],
    };
    out.push(format!("one SetWatches of {} bytes", whole.jute_bytes()));
    s.set_watches(a2, &whole);
    out.push(format!("after it: {:?}", s.events(a2).map(|e| e.len())));
    // in batches
    let a3 = s.open(Some(a), last).expect("reconnect");
    let batches = zkwal_zk::set_watches_batches(last as u64, &[], &exist, &[]);
    out.push(format!(
        "{} batches, the largest {} bytes",
        batches.len(),
        batches.iter().map(|b| b.jute_bytes()).max().unwrap_or(0)
    ));
    for body in &batches {
        s.set_watches(a3, body);
    }
    out.push(format!("after them: {:?}", s.events(a3)));
    for i in [0, n / 2, n - 1] {
        let r = Request::Create {
            path: path(i),
            data: vec![],
            mode: CreateMode::Persistent,
        };
        out.push(format!(
            "create {i}: {:?}",
            s.call(b, &r).map(|(_, r)| r.is_ok())
        ));
    }
    let events: Vec<String> = s
        .events(a3)
        .unwrap_or_default()
        .into_iter()
        .map(|(e, p)| {
            format!(
                "{e:?} {}",
                p.trim_start_matches('/')
                    .trim_start_matches('w')
                    .trim_start_matches('x')
            )
        })
        .collect();
    out.push(format!("events: {events:?}"));
    out
}

#[test]
fn servers_match_on_what_other_clients_send() {
    let Some(server) = server_or_skip("servers_match_on_what_other_clients_send") else {
        return;
    };
    let mut mock = RawMock::new(TICK_MS);
    let mut real = RawReal::new(server.connect_string());
    for (name, m, r) in [
        (
            "paths",
            raw_server_paths(&mut mock),
            raw_server_paths(&mut real),
        ),
        (
            "many watches",
            raw_many_watches(&mut mock),
            raw_many_watches(&mut real),
        ),
    ] {
        if std::env::var_os("ZKWAL_CONFORMANCE_TRACE").is_some() {
            eprintln!("{name}:\nmock: {m:#?}\nreal: {r:#?}");
        }
        let diffs: Vec<String> = m
            .iter()
            .zip(&r)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  mock: {a}\n  real: {b}"))
            .collect();
        assert!(
            diffs.is_empty() && m.len() == r.len(),
            "{name}: the servers differ:\n{}\nserver log:\n{}",
            diffs.join("\n"),
            server.log_tail()
        );
    }
    mock.ens.check_invariants().unwrap();
}
