//! A client socket, plain TCP or TLS, with the two operations connections
//! need: read some bytes, write a buffer out.
//!
//! Plain TCP reads wait for readiness *before* reserving buffer space, so an
//! idle connection holds no read buffer at all (part of keeping an idle
//! connection under 8 KiB). TLS reads go through tokio-rustls, which buffers
//! internally. `Transport` is also `AsyncRead + AsyncWrite`, for the
//! WebSocket layer.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::BytesMut;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::server::TlsStream;

/// Smallest and largest read sizes: an idle or handshaking connection
/// reads into 512 bytes, a busy one grows its reads up to 64 KiB.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

/// The read size of one connection, adapting to its traffic: doubled when a
/// read fills the space offered, halved when reads stay small. Large
/// transient read buffers during the handshakes of many connections would
/// otherwise stay resident as heap fragmentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadSize(usize);

impl Default for ReadSize {
    fn default() -> Self {
        ReadSize(MIN_READ)
    }
}

impl ReadSize {
    fn prepare(&self, buf: &mut BytesMut) -> usize {
        if buf.capacity() - buf.len() < self.0 {
            buf.reserve(self.0);
        }
        buf.capacity() - buf.len()
    }

    fn update(&mut self, offered: usize, read: usize) {
        if read >= offered {
            self.0 = (self.0 * 2).min(MAX_READ);
        } else if read < self.0 / 4 {
            self.0 = (self.0 / 2).max(MIN_READ);
        }
    }
}

/// A plain or TLS server-side socket.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Reads what is available into `buf` (at least one byte, or 0 at end of
    /// stream), offering `size` bytes of room. Cancel-safe: no bytes are lost
    /// if the future is dropped.
    pub(crate) async fn read_some(&mut self, buf: &mut BytesMut, size: &mut ReadSize) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => loop {
                tcp.readable().await?;
                let offered = size.prepare(buf);
                match tcp.try_read_buf(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Ok(n) => {
                        size.update(offered, n);
                        return Ok(n);
                    }
                    Err(e) => return Err(e),
                }
            },
            Transport::Tls(tls) => {
                let offered = size.prepare(buf);
                let n = tls.read_buf(buf).await?;
                size.update(offered, n);
                Ok(n)
            }
        }
    }

    /// Writes all of `data` and flushes it.
    pub(crate) async fn write_all_flush(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.write_all(data).await,
            Transport::Tls(tls) => {
                tls.write_all(data).await?;
                tls.flush().await
            }
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, data),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_size_adapts() {
        let mut size = ReadSize::default();
        let mut buf = BytesMut::new();
        let offered = size.prepare(&mut buf);
        assert!(offered >= MIN_READ && buf.capacity() < 2 * MIN_READ);
        for _ in 0..10 {
            size.update(size.0, size.0);
        }
        assert_eq!(size.0, MAX_READ, "full reads grow it");
        for _ in 0..10 {
            size.update(size.0, 10);
        }
        assert_eq!(size.0, MIN_READ, "small reads shrink it");
    }
}
