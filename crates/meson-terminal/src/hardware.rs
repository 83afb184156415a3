//! What the machine offers: CPUs, memory and the data directory's disk, as the admin API reports them.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Hardware {
    pub cpus: usize,
    pub memory_total_bytes: Option<u64>,
    pub memory_available_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    pub disk_free_bytes: Option<u64>,
    pub data_dir: String,
    pub os: &'static str,
    pub arch: &'static str,
}

/// Reads `/proc/meminfo`'s `MemTotal` and `MemAvailable` (kB) where the OS has it.
fn meminfo() -> (Option<u64>, Option<u64>) {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return (None, None);
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

pub fn probe(data_dir: &Path) -> Hardware {
    let (memory_total_bytes, memory_available_bytes) = meminfo();
    let disk = crate::store::disk_space(data_dir).ok();
    Hardware {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_total_bytes,
        memory_available_bytes,
        disk_total_bytes: disk.map(|d| d.1),
        disk_free_bytes: disk.map(|d| d.0),
        data_dir: data_dir.display().to_string(),
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_this_machine() {
        let hw = super::probe(std::path::Path::new("/"));
        assert!(hw.cpus >= 1);
        assert!(hw.disk_total_bytes.unwrap() > 0);
        if cfg!(target_os = "linux") {
            assert!(hw.memory_total_bytes.unwrap() >= hw.memory_available_bytes.unwrap());
        }
    }
}
