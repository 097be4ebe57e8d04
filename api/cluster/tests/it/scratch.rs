use crate::etcd::Etcd;
use std::time::{Duration, Instant};
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scratch() {
    let Some(etcd) = Etcd::start("scratch").await else {
        return;
    };
    let a = etcd.join("/t-s", "a").await;
    let b = etcd.join("/t-s", "b").await;
    a.define_hunt("h", "{}", &[("gem".to_owned(), 1_000_000)])
        .await
        .unwrap();
    let mut owned = vec![];
    for p in 0..8u32 {
        let n = if p < 4 { a.clone() } else { b.clone() };
        let e = n.acquire(p).await.unwrap().unwrap();
        owned.push((n, p, e));
    }
    let tasks: Vec<_> = (0..32usize)
        .map(|i| {
            let (n, p, e) = owned[i % 8].clone();
            tokio::spawn(async move {
                let (mut ok, mut err) = (0, 0);
                let t = Instant::now();
                while t.elapsed() < Duration::from_secs(4) {
                    match n.take_units(p, e, "h", "gem", 1).await {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            err += 1;
                            if err == 1 {
                                eprintln!("{e}");
                            }
                        }
                    }
                }
                (ok, err)
            })
        })
        .collect();
    let (mut ok, mut err) = (0, 0);
    for t in tasks {
        let (o, e) = t.await.unwrap();
        ok += o;
        err += e;
    }
    eprintln!("ok {ok} err {err}");
}
