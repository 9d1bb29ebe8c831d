// vpcmirror: batched UDP I/O. A shim because Swift cannot see struct mmsghdr, sendmmsg or recvmmsg
// (glibc declares them only under _GNU_SOURCE), and because building the message arrays in C keeps
// the per-datagram path free of Swift allocations.
#pragma once
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/// A destination in the form the kernel takes it.
typedef struct {
    struct sockaddr_storage storage;
    socklen_t length;
} CMirrorSocket_address;

/// Fills `out` for `family` (AF_INET/AF_INET6) from 4 or 16 network-order bytes and a port. Returns 0 or -EINVAL.
int CMirrorSocket_make_address(int family, const uint8_t *address, uint16_t port, CMirrorSocket_address *out);

/// Opens a blocking UDP socket for sending, bound to `port` on `bind_address` (NULL: any address), with
/// SO_REUSEPORT (several senders may share a source port) and path-MTU discovery off, so oversized copies are
/// fragmented with DF clear, as AWS sends them. Returns the descriptor, or -errno.
int CMirrorSocket_open_sender(int family, const uint8_t *bind_address, uint16_t port, int send_buffer_bytes);

/// Opens a UDP socket for receiving on `address`:`port` (NULL: any), with SO_REUSEPORT when `reuse_port` is
/// non-zero and the receive buffer raised to `receive_buffer_bytes` (SO_RCVBUFFORCE when permitted).
/// Returns the descriptor, or -errno.
int CMirrorSocket_open_receiver(int family, const uint8_t *address, uint16_t port, int reuse_port,
                                int receive_buffer_bytes);

/// Connects a UDP socket to `address`, so sends skip the per-datagram route lookup. Returns 0 or -errno.
int CMirrorSocket_connect(int fd, const CMirrorSocket_address *address);

/// The local port a socket is bound to, or -errno.
int CMirrorSocket_local_port(int fd);

/// Sends `count` datagrams with sendmmsg: datagram i is `lengths[i]` bytes at `base + offsets[i]`, sent to
/// `addresses[address_index[i]]` (or, when `addresses` is NULL, to the socket's connected peer). Returns how many
/// were sent before the first failure (all of them when none failed); on a failure `*error` is the errno of
/// datagram [return value], which the caller skips.
///
/// When `*use_gso` is non-zero, runs of 2 to 64 consecutive datagrams of one size (the last may be shorter) to
/// one destination go as one UDP GSO message (UDP_SEGMENT): the kernel splits it into the same datagrams, after
/// one pass through the stack instead of one each. If the kernel refuses GSO (no support, or a run larger
/// than the path allows), the run is sent datagram by datagram and `*use_gso` is cleared.
///
/// A connected socket reports an ICMP port-unreachable from an earlier datagram as ECONNREFUSED on a later send,
/// which then sends nothing; such a send is retried (the error is consumed) and counted in `*refused`.
int CMirrorSocket_send_batch(int fd, const uint8_t *base, const uint32_t *offsets, const uint32_t *lengths,
                             const CMirrorSocket_address *addresses, const uint16_t *address_index,
                             unsigned count, int *use_gso, int *error, unsigned *refused);

/// Receives up to `count` datagrams with recvmmsg into `count` buffers of `buffer_size` bytes starting at
/// `buffers`. Waits at most `timeout_ms` for the first (poll); -1 waits forever. Fills `lengths`, the
/// `truncated` flags (MSG_TRUNC), and the sources. Returns the number received, 0 on timeout, or -errno.
int CMirrorSocket_receive_batch(int fd, uint8_t *buffers, unsigned buffer_size, unsigned count, int timeout_ms,
                                uint32_t *lengths, uint8_t *truncated, CMirrorSocket_address *sources);

/// Waits up to `timeout_ms` (-1: forever) until one of `count` descriptors is readable; sets `ready[i]` to 1 for
/// those that are. Returns the number ready, 0 on timeout, or -errno (EINTR included, so signals are seen).
int CMirrorSocket_poll_readable(const int *fds, unsigned count, int timeout_ms, uint8_t *ready);

/// Closes a descriptor.
void CMirrorSocket_close(int fd);
