//! What the benchmark ran on: CPU, cores, memory, kernel and the file
//! system of the temporary directory (read from `/proc`).

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The machine line of a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// Cores the process may use.
    pub cores: usize,
    /// `MemTotal` from /proc/meminfo, MiB.
    pub memory_mib: u64,
    /// /proc/version up to the build details.
    pub kernel: String,
    /// The temporary directory the databases lived in.
    pub tmp_dir: String,
    /// File system type of `tmp_dir` (from /proc/mounts).
    pub fs_type: String,
    /// Device and mount point of `tmp_dir`.
    pub fs_mount: String,
}

impl Machine {
    /// Describes this machine, with `tmp_dir`'s file system.
    pub fn detect(tmp_dir: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown CPU".to_owned(), |(_, v)| v.trim().to_owned());
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let memory_mib = fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        let version = fs::read_to_string("/proc/version").unwrap_or_default();
        let kernel = version.split(" (").next().unwrap_or_default().trim().to_owned();
        let (fs_type, fs_mount) = mount_of(tmp_dir);
        Machine { cpu, cores, memory_mib, kernel, tmp_dir: tmp_dir.display().to_string(), fs_type, fs_mount }
    }

    /// One line for the report's header.
    pub fn line(&self) -> String {
        format!(
            "{}, {} cores, {} MiB RAM, {}; databases in {} on {} ({})",
            self.cpu, self.cores, self.memory_mib, self.kernel, self.tmp_dir, self.fs_type, self.fs_mount
        )
    }
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg: a busy machine
/// (another build, another benchmark) distorts every number.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The file system type and `device on mount point` holding `path`: the
/// /proc/mounts entry with the longest mount point that prefixes it.
fn mount_of(path: &Path) -> (String, String) {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String, String)> = None;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(device), Some(mount_point), Some(fs_type)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if !path.starts_with(mount_point) {
            continue;
        }
        if best.as_ref().is_none_or(|(len, _, _)| mount_point.len() >= *len) {
            best = Some((mount_point.len(), fs_type.to_owned(), format!("{device} on {mount_point}")));
        }
    }
    best.map_or_else(|| ("unknown".to_owned(), "unknown".to_owned()), |(_, t, m)| (t, m))
}
