//! The SSH tunnel (`ssh_tunnel`): every connection to the database — the direct one and
//! every pooled one — goes through one SSH session to a bastion host, in pure Rust (russh).
//!
//! The tunnel listens on a loopback port (`127.0.0.1:0`) and forwards each TCP connection
//! accepted there through a `direct-tcpip` channel to the database's host and port as the
//! bastion sees them. The driver's configuration keeps the database's host name (TLS checks
//! it under verify-full, and ~/.pgpass is looked up by it) and gets the loopback address as
//! `hostaddr` and the tunnel's port as its port ([`route`]).
//!
//! The session runs on a small tokio runtime of its own, since the rest of the program is
//! synchronous. A lost session (the bastion restarted, the network dropped) is opened again
//! on the next connection: the connections it carried break, the driver reports them as
//! closed, and flushes replay on a new connection ([`super::retry`] counts a closed
//! connection as transient). One tunnel serves a process: [`route`] reuses it.

mod host_key;
mod session;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::Handle;
use russh::ChannelOpenFailure;
use tokio::net::{TcpListener, TcpStream};

use crate::config::SshTunnelSettings;
use crate::error::{Error, Result};
use session::{Client, Failure, SessionConfig};

/// The tunnels of this process, by bastion and destination: started once, used by every
/// connection after.
static TUNNELS: Mutex<Vec<Arc<Tunnel>>> = Mutex::new(Vec::new());

/// A running tunnel: a loopback port forwarding to the database through the bastion.
pub struct Tunnel {
    /// Which settings and destination it serves, to find it again.
    key: String,
    /// Where the driver connects.
    local: SocketAddr,
    /// The state the forwarding tasks share.
    shared: Arc<Shared>,
    /// Runs the session and the forwarding tasks for as long as the process lives.
    _runtime: tokio::runtime::Runtime,
}

/// What the forwarding tasks share.
struct Shared {
    /// How to open a session.
    session_config: SessionConfig,
    /// The current session, opened again when lost.
    session: tokio::sync::Mutex<Option<Handle<Client>>>,
    /// The database as the bastion sees it.
    destination_host: String,
    destination_port: u16,
    /// Why the last forward failed, while it is the latest news (cleared by a success).
    failure: Mutex<Option<String>>,
}

impl Tunnel {
    /// `user@host:port` of the bastion.
    pub fn bastion(&self) -> String {
        self.shared.session_config.bastion()
    }

    /// `host:port` of the database, as the bastion reaches it.
    pub fn destination(&self) -> String {
        format!(
            "{}:{}",
            self.shared.destination_host, self.shared.destination_port
        )
    }

    /// Why the latest forward through the tunnel failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.lock().ok().and_then(|f| f.clone())
    }
}

/// Sends `config`'s connections through the tunnel of `settings` (started now if it is not
/// running yet): the database host and port become the tunnel's destination, and the
/// configuration connects to the tunnel's loopback port, keeping the host name for TLS.
pub fn route(
    config: &mut postgres::Config,
    settings: &SshTunnelSettings,
    timeout: Duration,
) -> Result<Arc<Tunnel>> {
    let (host, port) = destination(config, settings)?;
    let key = format!(
        "{}@{}:{} -> {host}:{port}",
        settings.username, settings.host, settings.port
    );
    let mut tunnels = TUNNELS
        .lock()
        .map_err(|_| Error::Internal("the SSH tunnel registry is poisoned".into()))?;
    let tunnel = match tunnels.iter().find(|t| t.key == key) {
        Some(tunnel) => tunnel.clone(),
        None => {
            let tunnel = Arc::new(start(key, settings, host, port, timeout)?);
            tunnels.push(tunnel.clone());
            tunnel
        }
    };
    *config = retarget(config, tunnel.local);
    Ok(tunnel)
}

/// The database's host and port from the driver's configuration: one TCP host (a `hostaddr`
/// wins, as libpq connects to it) and its port.
fn destination(config: &postgres::Config, settings: &SshTunnelSettings) -> Result<(String, u16)> {
    let refuse = |why: &str| {
        Error::config(
            format!("\"ssh_tunnel\" needs one database host reached over TCP; {why}"),
            &settings.origin,
        )
    };
    let hosts = config.get_hosts();
    if hosts.len() > 1 || config.get_hostaddrs().len() > 1 {
        return Err(refuse("the connection settings name several hosts"));
    }
    let host = match (config.get_hostaddrs().first(), hosts.first()) {
        (Some(address), _) => address.to_string(),
        (None, Some(postgres::config::Host::Tcp(host))) => host.clone(),
        (None, Some(postgres::config::Host::Unix(path))) => {
            return Err(refuse(&format!(
                "the host is a Unix socket directory ({})",
                path.display()
            )))
        }
        (None, None) => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Ok((host, port))
}

/// The same connection settings, connecting to `local` (the tunnel) instead: the host name
/// stays for TLS and `.pgpass`, the address and port are the tunnel's. The driver's
/// configuration can add hosts and ports but not remove them, so it is rebuilt field by field.
fn retarget(config: &postgres::Config, local: SocketAddr) -> postgres::Config {
    let mut routed = postgres::Config::new();
    if let Some(user) = config.get_user() {
        routed.user(user);
    }
    if let Some(password) = config.get_password() {
        routed.password(password);
    }
    if let Some(dbname) = config.get_dbname() {
        routed.dbname(dbname);
    }
    if let Some(options) = config.get_options() {
        routed.options(options);
    }
    if let Some(name) = config.get_application_name() {
        routed.application_name(name);
    }
    routed
        .ssl_mode(config.get_ssl_mode())
        .ssl_negotiation(config.get_ssl_negotiation());
    match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => {
            routed.host(host);
        }
        // No host name: the loopback address alone (TLS would check "127.0.0.1").
        _ => {
            routed.host(&local.ip().to_string());
        }
    }
    routed.hostaddr(local.ip()).port(local.port());
    if let Some(timeout) = config.get_connect_timeout() {
        routed.connect_timeout(*timeout);
    }
    if let Some(timeout) = config.get_tcp_user_timeout() {
        routed.tcp_user_timeout(*timeout);
    }
    routed
        .keepalives(config.get_keepalives())
        .keepalives_idle(config.get_keepalives_idle());
    if let Some(interval) = config.get_keepalives_interval() {
        routed.keepalives_interval(interval);
    }
    if let Some(retries) = config.get_keepalives_retries() {
        routed.keepalives_retries(retries);
    }
    routed
        .target_session_attrs(config.get_target_session_attrs())
        .channel_binding(config.get_channel_binding())
        .load_balance_hosts(config.get_load_balance_hosts());
    routed
}

/// Opens the first session (retrying an unreachable bastion until `timeout`, refusing at
/// once an untrusted host key or a refused login), then listens on a loopback port.
fn start(
    key: String,
    settings: &SshTunnelSettings,
    destination_host: String,
    destination_port: u16,
    timeout: Duration,
) -> Result<Tunnel> {
    let session_config = SessionConfig::new(settings, timeout)?;
    let bastion = session_config.bastion();
    let tunnel_error = |cause: String| Error::SshTunnel {
        bastion: bastion.clone(),
        cause,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ssh-tunnel")
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| tunnel_error(format!("cannot start the tunnel's threads: {e}")))?;
    let deadline = Instant::now() + timeout;
    let handle = runtime
        .block_on(first_session(&session_config, deadline))
        .map_err(|failure| tunnel_error(failure.cause().to_string()))?;
    let listener = runtime
        .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .and_then(|listener| Ok((listener.local_addr()?, listener)));
    let (local, listener) =
        listener.map_err(|e| tunnel_error(format!("cannot listen on a loopback port: {e}")))?;
    log::info!(
        "SSH tunnel through {bastion} to {destination_host}:{destination_port} open on {local}"
    );
    let shared = Arc::new(Shared {
        session_config,
        session: tokio::sync::Mutex::new(Some(handle)),
        destination_host,
        destination_port,
        failure: Mutex::new(None),
    });
    runtime.spawn(accept(listener, shared.clone()));
    Ok(Tunnel {
        key,
        local,
        shared,
        _runtime: runtime,
    })
}

/// The first session, tried again while the bastion is unreachable, until `deadline`.
async fn first_session(
    config: &SessionConfig,
    deadline: Instant,
) -> std::result::Result<Handle<Client>, Failure> {
    let mut delay = Duration::from_millis(200);
    loop {
        match config.open().await {
            Err(Failure::Unreachable(cause)) if Instant::now() + delay < deadline => {
                log::warn!("SSH tunnel: {cause}; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            outcome => return outcome,
        }
    }
}

/// Accepts the driver's connections on the loopback port, each forwarded by its own task.
async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((socket, peer)) => {
                tokio::spawn(forward(socket, peer, shared.clone()));
            }
            Err(error) => {
                // Out of file descriptors and the like: wait, rather than spin.
                log::warn!("SSH tunnel: accepting a connection failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Copies one connection both ways through a `direct-tcpip` channel; when no channel can be
/// opened, the connection is closed, which the driver reports as a closed connection.
async fn forward(mut socket: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = socket.set_nodelay(true);
    let channel = match shared.open_channel(peer).await {
        Ok(channel) => {
            if let Ok(mut failure) = shared.failure.lock() {
                *failure = None;
            }
            channel
        }
        Err(cause) => {
            log::warn!(
                "SSH tunnel through {}: {cause}",
                shared.session_config.bastion()
            );
            if let Ok(mut failure) = shared.failure.lock() {
                *failure = Some(cause);
            }
            return;
        }
    };
    let mut stream = channel.into_stream();
    if let Err(error) = tokio::io::copy_bidirectional(&mut socket, &mut stream).await {
        log::debug!("SSH tunnel: a forwarded connection ended: {error}");
    }
}

impl Shared {
    /// A channel to the database, opening a new session first when the last one was lost.
    async fn open_channel(
        &self,
        peer: SocketAddr,
    ) -> std::result::Result<russh::Channel<russh::client::Msg>, String> {
        let mut session = self.session.lock().await;
        // Twice at most: a session that looked alive may turn out dead when asked.
        for _ in 0..2 {
            if session.as_ref().is_none_or(|handle| handle.is_closed()) {
                if session.take().is_some() {
                    log::warn!(
                        "SSH tunnel: the session to {} was lost; connecting again",
                        self.session_config.bastion()
                    );
                }
                *session = Some(self.session_config.open().await.map_err(|failure| {
                    format!("cannot open a new SSH session: {}", failure.cause())
                })?);
            }
            let Some(handle) = session.as_ref() else {
                continue;
            };
            let originator = match peer.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => ip.to_string(),
            };
            let opening = handle.channel_open_direct_tcpip(
                self.destination_host.clone(),
                u32::from(self.destination_port),
                originator,
                u32::from(peer.port()),
            );
            match tokio::time::timeout(self.session_config.timeout(), opening).await {
                Ok(Ok(channel)) => return Ok(channel),
                Ok(Err(russh::Error::ChannelOpenFailure(failure))) => {
                    return Err(self.refused_forward(&failure))
                }
                // The session broke (or hangs): drop it and open a new one.
                Ok(Err(_)) | Err(_) => {
                    *session = None;
                }
            }
        }
        Err("the SSH session broke twice while opening a channel".to_string())
    }

    /// The bastion's refusal of a forward, in words.
    fn refused_forward(&self, failure: &ChannelOpenFailure) -> String {
        let why = match failure {
            ChannelOpenFailure::AdministrativelyProhibited => {
                "forwarding is not allowed for this user (sshd's AllowTcpForwarding / PermitOpen)".to_string()
            }
            ChannelOpenFailure::ConnectFailed => {
                "the bastion cannot connect there (is the database host and port right, as the bastion sees them?)".to_string()
            }
            other => format!("{other:?}"),
        };
        format!(
            "the bastion refused to forward to {}:{}: {why}",
            self.destination_host, self.destination_port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn retargeting_keeps_every_setting_but_the_address_and_port() {
        let original = postgres::Config::from_str(
            "postgresql://u:secret@db.internal:6543/d?options=-c%20x%3D1&application_name=a\
             &sslmode=require&connect_timeout=7&tcp_user_timeout=8&keepalives=0\
             &keepalives_idle=9&target_session_attrs=read-write&channel_binding=require\
             &load_balance_hosts=random",
        )
        .unwrap();
        let local: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let routed = retarget(&original, local);
        assert_eq!(routed.get_password(), Some(&b"secret"[..]));
        assert_eq!(routed.get_ports(), [40001]);
        assert_eq!(routed.get_hostaddrs(), [local.ip()]);
        assert!(
            matches!(routed.get_hosts(), [postgres::config::Host::Tcp(h)] if h == "db.internal")
        );
        // Debug lists every field the driver has (the password redacted): a field added in a
        // later driver version and not copied shows up here.
        let normalize = |config: &postgres::Config| {
            format!("{config:?}")
                .replace("hostaddr: [127.0.0.1]", "hostaddr: []")
                .replace("port: [40001]", "port: [6543]")
        };
        assert_eq!(normalize(&routed), normalize(&original));
    }

    fn settings() -> SshTunnelSettings {
        SshTunnelSettings {
            host: "b".into(),
            port: 22,
            username: "u".into(),
            private_key: crate::config::PemSource::File("/k".into()),
            private_key_password: None,
            host_key: crate::config::HostKeyPolicy::AcceptAny,
            origin: "test.json".into(),
        }
    }

    #[test]
    fn the_destination_is_the_one_tcp_host_and_its_port() {
        let config = postgres::Config::from_str("postgresql://u@db.internal:6543/d").unwrap();
        assert_eq!(
            destination(&config, &settings()).unwrap(),
            ("db.internal".to_string(), 6543)
        );
        let config = postgres::Config::from_str("postgresql://u@a:1,b:2/d").unwrap();
        let err = destination(&config, &settings()).unwrap_err();
        assert!(err.to_string().contains("several hosts"), "{err}");
        let config = postgres::Config::from_str("postgresql://u@%2Ftmp/d").unwrap();
        let err = destination(&config, &settings()).unwrap_err();
        assert!(err.to_string().contains("Unix socket"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
