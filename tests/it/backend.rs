//! The compile seam: a second [`Backend`] plugs into [`compile_all`] without touching the
//! cache, the planner or the sinks. A fake backend answers canned code; the cache answers what
//! it holds and the backend is never asked for it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pyship::cache::Cache;
use pyship::compile::{
    Backend, CodeOptions, CompileError, CompileOutcome, CompileRequest, Compiled, Event, Optimize,
    Relocated, SyntaxError, compile_all,
};

/// Answers `code of DFILE at LEVEL` for every source, a syntax error for one that says `bad`,
/// and remembers what it was asked.
#[derive(Default)]
struct Fake {
    asked: Mutex<Vec<String>>,
    prepared: AtomicUsize,
    /// How long each answer takes.
    delay: Duration,
    /// `prepare` fails.
    broken: bool,
}

impl Backend for Fake {
    fn compile(&self, request: &CompileRequest) -> Result<CompileOutcome, CompileError> {
        std::thread::sleep(self.delay);
        self.asked.lock().unwrap().push(request.dfile.clone());
        if &request.source[..] == b"bad" {
            return Ok(CompileOutcome::SyntaxError(
                SyntaxError {
                    line: 1,
                    column: 1,
                    message: "invalid syntax".to_owned(),
                },
                Vec::new(),
            ));
        }
        Ok(CompileOutcome::code(
            format!(
                "code of {} at {}",
                request.dfile,
                request.options.optimize.level()
            )
            .into_bytes(),
        ))
    }

    fn magic(&self) -> [u8; 4] {
        *b"FAKE"
    }

    /// `code of DFILE at LEVEL` with another DFILE.
    fn relocate(
        &self,
        code: &[u8],
        _: Option<usize>,
        dfile: &str,
    ) -> Result<Relocated, CompileError> {
        let code = std::str::from_utf8(code).unwrap();
        let level = code.rsplit_once(" at ").unwrap().1;
        Ok(Relocated {
            code: format!("code of {dfile} at {level}").into_bytes(),
            slot: None,
        })
    }

    fn slots(&self) -> usize {
        2
    }

    fn prepare(&self, misses: usize) -> Result<(), CompileError> {
        if self.broken {
            return Err(CompileError::Worker {
                dfile: String::new(),
                message: "cannot start".to_owned(),
            });
        }
        self.prepared.fetch_max(misses, Ordering::SeqCst);
        Ok(())
    }
}

fn request(dfile: &str, source: &str) -> CompileRequest {
    CompileRequest {
        source: source.as_bytes().into(),
        dfile: dfile.to_owned(),
        options: CodeOptions::new(Optimize::One),
    }
}

fn requests(count: usize) -> Vec<CompileRequest> {
    (0..count)
        .map(|i| request(&format!("m{i}.py"), &format!("x = {i}\n")))
        .collect()
}

/// What one `compile_all` run handed over: outcomes by index (with whether the cache answered
/// them), the order of the events, and the stats.
struct Run {
    outcomes: BTreeMap<usize, (CompileOutcome, bool)>,
    events: Vec<String>,
    compiled: Compiled,
}

fn run(backend: &Fake, cache: Option<&Cache>, requests: Vec<CompileRequest>) -> Run {
    let mut outcomes = BTreeMap::new();
    let mut events = Vec::new();
    let compiled = compile_all(backend, cache, requests, None, |event| {
        match event {
            Event::Compiling { misses } => events.push(format!("compiling {misses}")),
            Event::Answer(answer) => {
                events.push(if answer.cached { "hit" } else { "miss" }.to_owned());
                let outcome = answer.outcome.unwrap();
                assert!(
                    outcomes
                        .insert(answer.index, (outcome, answer.cached))
                        .is_none()
                );
            }
        }
        Ok::<(), CompileError>(())
    })
    .unwrap();
    Run {
        outcomes,
        events,
        compiled,
    }
}

fn code(outcome: &CompileOutcome) -> &[u8] {
    match outcome {
        CompileOutcome::Code(code, _) => code,
        CompileOutcome::SyntaxError(error, _) => panic!("{error:?}"),
    }
}

#[test]
fn a_second_backend_compiles_everything_without_a_cache() {
    let fake = Fake::default();
    let mut requests = requests(20);
    requests.push(request("broken.py", "bad"));
    let run = run(&fake, None, requests);
    assert_eq!(run.outcomes.len(), 21);
    for i in 0..20 {
        let (outcome, cached) = &run.outcomes[&i];
        assert_eq!(code(outcome), format!("code of m{i}.py at 1").as_bytes());
        assert!(!cached);
    }
    assert!(matches!(
        run.outcomes[&20].0,
        CompileOutcome::SyntaxError(..)
    ));
    assert_eq!(fake.asked.lock().unwrap().len(), 21);
    // Prepared for as many as it serves at once, not for every request.
    assert_eq!(fake.prepared.load(Ordering::SeqCst), 2);
    assert_eq!(run.events[0], "compiling 21");
    let stats = run.compiled.stats;
    assert_eq!((stats.compiled, stats.cached, stats.workers), (21, 0, 0));
}

#[test]
fn with_a_cache_hits_are_never_asked_of_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let mut first = requests(10);
    first.push(request("broken.py", "bad"));
    let cold = Fake::default();
    let run_cold = run(&cold, Some(&cache), first.clone());
    assert_eq!(cold.asked.lock().unwrap().len(), 11);
    assert_eq!(run_cold.compiled.stats.compiled, 11);

    // Same requests, one of them changed, one new, and one at another level.
    let mut second = first;
    second[3] = request("m3.py", "x = 'changed'\n");
    second.push(request("new.py", "y = 2\n"));
    second.push(CompileRequest {
        options: CodeOptions::new(Optimize::Two),
        ..request("m0.py", "x = 0\n")
    });
    // The source of m1.py under another name: a hit, relocated there.
    second.push(request("pkg/copy.py", "x = 1\n"));
    let warm = Fake::default();
    let run_warm = run(&warm, Some(&cache), second);
    let mut asked = warm.asked.lock().unwrap().clone();
    asked.sort();
    // Syntax errors are cached too: not asked again.
    assert_eq!(asked, ["m0.py", "m3.py", "new.py"]);
    // Workers are prepared only for misses, as they are found.
    assert_eq!(warm.prepared.load(Ordering::SeqCst), 2);
    let stats = run_warm.compiled.stats;
    assert_eq!((stats.compiled, stats.cached), (3, 11));
    for i in [0, 1, 2, 4, 5, 6, 7, 8, 9, 10] {
        let (outcome, cached) = &run_warm.outcomes[&i];
        assert!(cached, "request {i}");
        assert_eq!(outcome, &run_cold.outcomes[&i].0);
    }
    assert_eq!(
        code(&run_warm.outcomes[&13].0),
        b"code of pkg/copy.py at 1".as_slice()
    );
    assert_eq!(
        code(&run_warm.outcomes[&3].0),
        b"code of m3.py at 1".as_slice()
    );
    assert_eq!(
        code(&run_warm.outcomes[&12].0),
        b"code of m0.py at 2".as_slice()
    );
    // Every hit first, then the misses.
    let compiling = run_warm
        .events
        .iter()
        .position(|event| event == "compiling 3")
        .unwrap();
    assert!(run_warm.events[..compiling].iter().all(|e| e == "hit"));
    assert!(run_warm.events[compiling + 1..].iter().all(|e| e == "miss"));

    // All hits: the backend is neither asked nor prepared.
    let idle = Fake::default();
    let all = run(&idle, Some(&cache), requests(10));
    assert_eq!(all.compiled.stats.cached, 10);
    assert!(idle.asked.lock().unwrap().is_empty());
    assert_eq!(idle.prepared.load(Ordering::SeqCst), 0);
    assert!(
        !all.events
            .iter()
            .any(|event| event.starts_with("compiling"))
    );
}

#[test]
fn a_consumer_error_stops_the_backend() {
    let fake = Fake {
        delay: Duration::from_millis(2),
        ..Fake::default()
    };
    let mut answers = 0;
    let result = compile_all(&fake, None, requests(1000), None, |event| {
        if let Event::Answer(_) = event {
            answers += 1;
            return Err(CompileError::Worker {
                dfile: "sink".to_owned(),
                message: "disk full".to_owned(),
            });
        }
        Ok(())
    });
    let error = result.unwrap_err();
    assert!(error.to_string().contains("disk full"), "{error}");
    assert_eq!(answers, 1);
    // At most what fits in the channel and what the threads held: far from all 1000.
    let asked = fake.asked.lock().unwrap().len();
    assert!(
        asked <= 64 + 2 * 2 + 1,
        "{asked} asked after the consumer stopped"
    );
}

#[test]
fn a_backend_that_cannot_prepare_fails_before_any_answer() {
    let fake = Fake {
        broken: true,
        ..Fake::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    for cache in [None, Some(&cache)] {
        let mut events = 0;
        let error = compile_all(&fake, cache, requests(5), None, |_| {
            events += 1;
            Ok::<(), CompileError>(())
        })
        .unwrap_err();
        assert!(error.to_string().contains("cannot start"), "{error}");
        assert_eq!(events, 0);
        assert!(fake.asked.lock().unwrap().is_empty());
    }
}

/// Byte-identical sources with the same options are compiled once per call, each copy getting
/// the code at its own path; the same source at other options, or another source of the same
/// length, is compiled on its own.
#[test]
fn identical_sources_are_compiled_once_and_given_their_own_path() {
    let fake = Fake::default();
    let mut requests = vec![
        request("a/vendored.py", "x = 1\n"),
        request("b/vendored.py", "x = 1\n"),
        request("other.py", "x = 2\n"),
        request("c/vendored.py", "x = 1\n"),
        request("broken.py", "bad"),
        request("also_broken.py", "bad"),
    ];
    let mut at_two = request("d/vendored.py", "x = 1\n");
    at_two.options = CodeOptions::new(Optimize::Two);
    requests.push(at_two);
    let run = run(&fake, None, requests);
    let mut asked = fake.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        ["a/vendored.py", "broken.py", "d/vendored.py", "other.py"]
    );
    for (index, expected) in [
        (0, "code of a/vendored.py at 1"),
        (1, "code of b/vendored.py at 1"),
        (2, "code of other.py at 1"),
        (3, "code of c/vendored.py at 1"),
        (6, "code of d/vendored.py at 2"),
    ] {
        assert_eq!(code(&run.outcomes[&index].0), expected.as_bytes());
    }
    for index in [4, 5] {
        assert!(matches!(
            run.outcomes[&index].0,
            CompileOutcome::SyntaxError(..)
        ));
    }
    assert_eq!(run.events[0], "compiling 7");
    let stats = run.compiled.stats;
    assert_eq!((stats.compiled, stats.shared), (7, 3));
}
