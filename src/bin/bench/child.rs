//! Running the target as a child process: its wall time, its CPU time (user + system, from
//! `wait4` as it is reaped) and its peak RSS (VmHWM, polled from /proc while it runs; `wait4`'s
//! `ru_maxrss` would also count the benchmark's own memory, which the child inherits at fork).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run of the target cost.
pub struct Measured {
    pub elapsed: Duration,
    /// User + system CPU time of the target process.
    pub cpu: Duration,
    pub peak_kb: u64,
}

/// Runs the target on the input and checks that it succeeded and wrote its final state.
pub fn run_target(target: &Path, config: &Path, input: &Path) -> Result<Measured, String> {
    let started = Instant::now();
    let mut child = Command::new(target)
        .arg("--config")
        .arg(config)
        .arg("--input")
        .arg(input)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The peak is sampled on a side thread; the exit is waited for on this one, so the time
    // measured ends when the process does, not at the next sample.
    let exited = Arc::new(AtomicBool::new(false));
    let sampler = {
        let status_path = format!("/proc/{}/status", child.id());
        let exited = Arc::clone(&exited);
        std::thread::spawn(move || sample_peak(&status_path, &exited))
    };
    let mut state = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut state);
    }
    let reaped = wait_with_cpu(&child);
    let elapsed = started.elapsed();
    exited.store(true, Ordering::Relaxed);
    let peak_kb = sampler.join().unwrap_or(0);
    let (status, cpu) = reaped?;
    if !status.success() {
        return Err(format!("target-postgres failed: {status}"));
    }
    if !state.contains("\"rows\"") {
        return Err(format!("target-postgres wrote no final state: {state:?}"));
    }
    Ok(Measured {
        elapsed,
        cpu,
        peak_kb,
    })
}

/// The highest VmHWM read until `exited` is set. VmHWM is the process's own high-water mark,
/// so a late sample loses nothing.
fn sample_peak(status_path: &str, exited: &AtomicBool) -> u64 {
    let mut peak = 0u64;
    while !exited.load(Ordering::Relaxed) {
        if let Some(kb) = std::fs::read_to_string(status_path).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        }) {
            peak = peak.max(kb);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    peak
}

/// Reaps the child with `wait4`, which also returns its resource usage; std's `wait` would
/// discard it. The child must not be waited for otherwise (its `Child` is not waited on drop).
fn wait_with_cpu(child: &Child) -> Result<(ExitStatus, Duration), String> {
    let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is a plain C struct of integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: our own unreaped child, and valid pointers to locals for the results.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for target-postgres: {error}"));
        }
    }
    let seconds = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Ok((
        ExitStatus::from_raw(status),
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
    ))
}
