//! Whether this process was handed a listening socket, by systemd's socket-activation
//! convention (`sd_listen_fds(3)`): the variables only. Taking the descriptor itself needs
//! `from_raw_fd`, which the core leaves to its callers (the binary and the Python package use
//! the `listenfd` crate); this module only decides, from the environment and the process ids,
//! whether the socket at descriptor 3 is ours.
//!
//! Two kinds of spawner hand sockets on:
//! - systemd, `systemd-socket-activate` and `systemfd` set `LISTEN_PID` to the pid of the
//!   process that is to serve (they set it between `fork` and `exec`);
//! - a spawner that cannot (basehttp's supervisor, Django's autoreloader under basehttp's
//!   `runserver`: Rust's `Command` and Python's `subprocess` give no safe hook between `fork`
//!   and `exec`) leaves `LISTEN_PID` out and names *its own* pid in [`LISTEN_PARENT`]; the
//!   child adopts the socket only if that is its parent. Either way a grandchild that inherits
//!   the variables (an application's subprocess) does not take them for its own.

/// How many descriptors are handed on, from descriptor 3 up (systemd).
pub const LISTEN_FDS: &str = "LISTEN_FDS";
/// The pid the descriptors are meant for (systemd).
pub const LISTEN_PID: &str = "LISTEN_PID";
/// Their names, colon-separated (systemd's `FileDescriptorName=`); basehttp names its
/// `basehttp`.
pub const LISTEN_FDNAMES: &str = "LISTEN_FDNAMES";
/// The first descriptor when it is not 3 (an extension of the `listenfd` crate, which
/// Django's autoreloader under basehttp needs when descriptor 3 is taken).
pub const LISTEN_FDS_FIRST_FD: &str = "LISTEN_FDS_FIRST_FD";
/// basehttp's own: the pid of the spawner that set the variables, for children that cannot
/// be named in `LISTEN_PID`.
pub const LISTEN_PARENT: &str = "BASEHTTP_LISTEN_PARENT";

/// Every variable of the handover, to be cleared once the socket is taken.
pub const VARIABLES: [&str; 5] = [
    LISTEN_FDS,
    LISTEN_PID,
    LISTEN_FDNAMES,
    LISTEN_FDS_FIRST_FD,
    LISTEN_PARENT,
];

/// Sockets handed to this process: what [`inherited`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherited {
    /// How many (`LISTEN_FDS`); basehttp serves the first.
    pub count: usize,
    /// The first descriptor: 3 unless `LISTEN_FDS_FIRST_FD` says otherwise.
    pub first_fd: i32,
    /// Who handed them on, for the log: `systemd` (`LISTEN_PID`) or `parent <pid>`.
    pub from: String,
}

/// Reads the handover variables through `var` (`std::env::var(name).ok()`, or a test's
/// table) for a process `pid` whose parent is `ppid`: `Ok(None)` when there is none for this
/// process (no `LISTEN_FDS`, or meant for another pid), an error when the variables are
/// malformed.
///
/// ```
/// use basehttp::listen_fds::inherited;
/// let env = |name: &str| match name {
///     "LISTEN_FDS" => Some("1".to_owned()),
///     "LISTEN_PID" => Some("4242".to_owned()),
///     _ => None,
/// };
/// assert_eq!(inherited(env, 4242, 1).unwrap().unwrap().first_fd, 3);
/// assert_eq!(inherited(env, 4243, 4242).unwrap(), None); // a grandchild's
/// ```
pub fn inherited(
    var: impl Fn(&str) -> Option<String>,
    pid: u32,
    ppid: u32,
) -> Result<Option<Inherited>, String> {
    let Some(count) = var(LISTEN_FDS) else {
        return Ok(None);
    };
    let from = match (var(LISTEN_PID), var(LISTEN_PARENT)) {
        (Some(listen_pid), _) if !listen_pid.is_empty() => {
            if number(LISTEN_PID, &listen_pid)? != pid {
                return Ok(None);
            }
            "systemd".to_owned()
        }
        (_, Some(parent)) => {
            if number(LISTEN_PARENT, &parent)? != ppid {
                return Ok(None);
            }
            format!("parent {ppid}")
        }
        // Nothing says whose they are: not taken (systemfd's --no-pid), lest a grandchild
        // take its parent's socket.
        _ => return Ok(None),
    };
    let count = number(LISTEN_FDS, &count)? as usize;
    if count == 0 {
        return Ok(None);
    }
    let first_fd = match var(LISTEN_FDS_FIRST_FD) {
        Some(fd) => number(LISTEN_FDS_FIRST_FD, &fd)? as i32,
        None => 3,
    };
    if first_fd < 3 {
        return Err(format!("{LISTEN_FDS_FIRST_FD}={first_fd}: below 3"));
    }
    Ok(Some(Inherited {
        count,
        first_fd,
        from,
    }))
}

fn number(name: &str, value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if n <= i32::MAX as u32 => Ok(n),
        _ => Err(format!("{name}={value:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// (variables, pid, ppid, expected)
    type Row<'a> = (
        &'a [(&'a str, &'a str)],
        u32,
        u32,
        Result<Option<Inherited>, String>,
    );

    #[test]
    fn decides_whose_sockets_they_are() {
        let ours = |count, first_fd: i32, from: &str| {
            Ok(Some(Inherited {
                count,
                first_fd,
                from: from.to_owned(),
            }))
        };
        let rows: &[Row] = &[
            (&[], 10, 1, Ok(None)),
            (
                &[("LISTEN_FDS", "1"), ("LISTEN_PID", "10")],
                10,
                1,
                ours(1, 3, "systemd"),
            ),
            (
                &[("LISTEN_FDS", "2"), ("LISTEN_PID", "10")],
                10,
                1,
                ours(2, 3, "systemd"),
            ),
            // Meant for another process (a grandchild that inherited them).
            (&[("LISTEN_FDS", "1"), ("LISTEN_PID", "9")], 10, 1, Ok(None)),
            // LISTEN_PID wins over ours when both are there.
            (
                &[
                    ("LISTEN_FDS", "1"),
                    ("LISTEN_PID", "9"),
                    ("BASEHTTP_LISTEN_PARENT", "1"),
                ],
                10,
                1,
                Ok(None),
            ),
            (
                &[("LISTEN_FDS", "1"), ("BASEHTTP_LISTEN_PARENT", "7")],
                10,
                7,
                ours(1, 3, "parent 7"),
            ),
            (
                &[
                    ("LISTEN_FDS", "1"),
                    ("LISTEN_PID", ""),
                    ("BASEHTTP_LISTEN_PARENT", "7"),
                ],
                10,
                7,
                ours(1, 3, "parent 7"),
            ),
            (
                &[("LISTEN_FDS", "1"), ("BASEHTTP_LISTEN_PARENT", "7")],
                10,
                8,
                Ok(None),
            ),
            // Nobody named: not taken.
            (&[("LISTEN_FDS", "1")], 10, 1, Ok(None)),
            (
                &[("LISTEN_FDS", "0"), ("LISTEN_PID", "10")],
                10,
                1,
                Ok(None),
            ),
            (
                &[
                    ("LISTEN_FDS", "1"),
                    ("LISTEN_PID", "10"),
                    ("LISTEN_FDS_FIRST_FD", "7"),
                ],
                10,
                1,
                ours(1, 7, "systemd"),
            ),
            (
                &[
                    ("LISTEN_FDS", "1"),
                    ("LISTEN_PID", "10"),
                    ("LISTEN_FDS_FIRST_FD", "2"),
                ],
                10,
                1,
                Err("LISTEN_FDS_FIRST_FD=2: below 3".into()),
            ),
            (
                &[("LISTEN_FDS", "x"), ("LISTEN_PID", "10")],
                10,
                1,
                Err("LISTEN_FDS=\"x\" is not a number".into()),
            ),
            (
                &[("LISTEN_FDS", "1"), ("LISTEN_PID", "-1")],
                10,
                1,
                Err("LISTEN_PID=\"-1\" is not a number".into()),
            ),
        ];
        for (vars, pid, ppid, want) in rows {
            assert_eq!(
                &inherited(env(vars), *pid, *ppid),
                want,
                "{vars:?} {pid} {ppid}"
            );
        }
    }
}
