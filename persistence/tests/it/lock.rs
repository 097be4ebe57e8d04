//! One process per data folder: a second open fails at once with
//! `StoreError::Locked`, in this process and from another real process, and
//! the folder opens again once the first owner has closed it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use trove_engine::*;
use trove_persistence::*;

const CHILD_DIR_ENV: &str = "TROVE_LOCK_CHILD_DIR";
/// The libtest path of [`lock_child`] inside this test binary.
const CHILD_TEST: &str = "lock::lock_child";

fn open(dir: &Path) -> Result<(Engine, Store, RecoveryReport), StoreError> {
    open_engine(dir, StoreOptions::default(), EngineConfig::default())
}

/// Asserts `err` is `Locked` on `dir`, with a message that names the folder and
/// the pid holding it.
fn assert_locked(err: &StoreError, dir: &Path, holder_pid: u32) {
    match err {
        StoreError::Locked { path, holder } => {
            assert_eq!(path, dir, "Locked names the wrong folder");
            assert_eq!(holder, &format!(" (pid {holder_pid})"), "Locked names the wrong holder");
        }
        other => panic!("expected StoreError::Locked, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string()),
        "message does not name the folder: {msg}"
    );
    assert!(
        msg.contains(&format!("pid {holder_pid}")),
        "message does not name the holder: {msg}"
    );
}

async fn close(engine: Engine, store: Store) {
    store.close().await.unwrap();
    engine.stop();
    drop(store);
}

#[test]
fn second_open_in_process_fails_at_once_then_works_after_close() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    actix::System::new().block_on(async {
        let (engine, store, _) = open(&dir).unwrap();

        let started = Instant::now();
        let err = match open(&dir) {
            Err(e) => e,
            Ok(_) => panic!("a second open of a folder in use succeeded"),
        };
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "Locked took {:?}",
            started.elapsed()
        );
        assert_locked(&err, &dir, std::process::id());
        // Offline tools take the same lock.
        assert_locked(&verify(&dir).unwrap_err(), &dir, std::process::id());
        assert_locked(
            &read_journal(&dir, 0, |_, _, _| {}).unwrap_err(),
            &dir,
            std::process::id(),
        );
        // The failed attempts did not disturb the owner.
        let hunt = HuntDef {
            id: "h".into(),
            name: "H".into(),
            opens_at: None,
            closes_at: None,
            clues: vec![],
            products: vec![],
        };
        assert!(engine.define_hunt(hunt).await.unwrap().created);
        close(engine, store).await;

        let (engine, store, report) = open(&dir).expect("open after the owner closed");
        assert_eq!(report.last_seq, 1);
        assert_eq!(engine.hunt_ids(), vec!["h".to_string()]);
        close(engine, store).await;
    });
    assert!(verify(&dir).unwrap().ok());
}

/// The other process of [`second_open_from_another_process_fails_at_once`]:
/// tries to open the folder and prints `LOCKED <message>` or `OPENED <last_seq>`.
/// Exits 0 in both cases; only other errors fail it.
#[test]
#[ignore = "child process of the lock test; does nothing unless TROVE_LOCK_CHILD_DIR is set"]
fn lock_child() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    actix::System::new().block_on(async {
        let started = Instant::now();
        match open(dir) {
            Err(e @ StoreError::Locked { .. }) => println!("LOCKED {}ms {e}", started.elapsed().as_millis()),
            Err(e) => panic!("open failed with something else than Locked: {e}"),
            Ok((engine, store, report)) => {
                println!("OPENED {}", report.last_seq);
                close(engine, store).await;
            }
        }
    });
}

/// Runs [`lock_child`] on `dir` and returns its result line.
fn run_child(dir: &Path) -> String {
    let out = Command::new(this_test_binary())
        .args(["--exact", CHILD_TEST, "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "lock child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest prints "test lock::lock_child ... " before the test runs.
    stdout
        .lines()
        .find_map(|l| {
            l.find("LOCKED ")
                .or_else(|| l.find("OPENED "))
                .map(|at| l[at..].to_string())
        })
        .unwrap_or_else(|| panic!("lock child printed no result:\n{stdout}"))
}

#[test]
fn second_open_from_another_process_fails_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    actix::System::new().block_on(async {
        let (engine, store, _) = open(&dir).unwrap();
        let hunt = HuntDef {
            id: "h".into(),
            name: "H".into(),
            opens_at: None,
            closes_at: None,
            clues: vec![],
            products: vec![],
        };
        engine.define_hunt(hunt).await.unwrap();

        let line = run_child(&dir);
        let rest = line
            .strip_prefix("LOCKED ")
            .unwrap_or_else(|| panic!("second process opened a folder in use: {line}"));
        let (ms, msg) = rest.split_once("ms ").unwrap();
        let ms: u64 = ms.parse().unwrap();
        assert!(ms < 1000, "Locked took {ms} ms in the other process");
        assert!(
            msg.contains(&dir.display().to_string()),
            "message does not name the folder: {msg}"
        );
        assert!(
            msg.contains(&format!("(pid {})", std::process::id())),
            "message does not name this process as the holder: {msg}"
        );
        close(engine, store).await;
    });
    // The owner is gone: the other process opens it and sees its contents.
    assert_eq!(run_child(&dir), "OPENED 1");
}

/// Closing lets go of the folder for good: reopening at once, in this process,
/// works every time (sled frees its own file lock a moment after a close,
/// which `open_sled` waits out), and so do the offline tools.
#[test]
fn reopen_right_after_close_works_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    actix::System::new().block_on(async {
        for round in 0..40u64 {
            let (engine, store, report) = open(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(report.last_seq, round);
            let hunt = HuntDef {
                id: format!("h{round}"),
                name: "H".into(),
                opens_at: None,
                closes_at: None,
                clues: vec![],
                products: vec![],
            };
            engine.define_hunt(hunt).await.unwrap();
            close(engine, store).await;
            if round % 4 == 0 {
                let end = read_journal(&dir, 0, |_, _, _| {}).unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert_eq!(end.last_seq, round + 1);
                assert!(verify(&dir).unwrap_or_else(|e| panic!("round {round}: {e}")).ok());
            }
        }
    });
}

/// The running test binary, to start a child from. `/proc/self/exe` stays the
/// binary this process runs even when a rebuild replaces the file meanwhile
/// (cargo's target folder is shared).
fn this_test_binary() -> std::path::PathBuf {
    let proc_exe = std::path::Path::new("/proc/self/exe");
    if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().unwrap()
    }
}

/// A child being spawned holds copies of its parent's descriptors, flock-ed
/// ones included, until it execs. While another thread of this process spawns
/// children, reopening a folder this process just closed must still work (it
/// once failed with "in use by another Trove process (pid <this process>)"
/// nearly every time), and a second open while it is held still fails at once.
#[test]
fn reopen_works_while_this_process_spawns_children() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spawner = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut spawned = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                Command::new("true").status().unwrap();
                spawned += 1;
            }
            spawned
        }
    });
    let mut failures = Vec::new();
    for round in 0..300 {
        match DirLock::acquire(&dir) {
            Ok(lock) => {
                let started = Instant::now();
                match DirLock::acquire(&dir) {
                    Err(StoreError::Locked { .. }) => {}
                    Err(e) => failures.push(format!("round {round}: second acquire: {e}")),
                    Ok(_) => failures.push(format!("round {round}: acquired twice")),
                }
                if started.elapsed() > Duration::from_millis(500) {
                    failures.push(format!("round {round}: Locked took {:?}", started.elapsed()));
                }
                drop(lock);
            }
            Err(e) => failures.push(format!("round {round}: {e}")),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let spawned = spawner.join().unwrap();
    assert!(spawned > 0);
    assert!(
        failures.is_empty(),
        "{} of 300 rounds failed ({spawned} children spawned meanwhile); first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}
