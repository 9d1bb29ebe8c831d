// vpcmirror: batched UDP I/O over sendmmsg/recvmmsg. See CMirrorSocket.h for why this is C.
#define _GNU_SOURCE
#include "CMirrorSocket.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/udp.h>

enum { BATCH = 256 };  // messages per sendmmsg/recvmmsg call; the arrays live on the stack

int CMirrorSocket_make_address(int family, const uint8_t *address, uint16_t port, CMirrorSocket_address *out) {
    memset(out, 0, sizeof(*out));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->storage;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        if (address) memcpy(&a->sin_addr, address, 4);
        out->length = sizeof(*a);
        return 0;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->storage;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        if (address) memcpy(&a->sin6_addr, address, 16);
        out->length = sizeof(*a);
        return 0;
    }
    return -EINVAL;
}

static int open_udp(int family, const uint8_t *address, uint16_t port, int reuse_port) {
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) goto fail;
    if (family == AF_INET6) {
        // Only IPv6 on an IPv6 socket, so an IPv4 socket on the same port does not collide.
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) goto fail;
    }
    CMirrorSocket_address local;
    if (CMirrorSocket_make_address(family, address, port, &local) < 0) { close(fd); return -EINVAL; }
    if (bind(fd, (struct sockaddr *)&local.storage, local.length) < 0) goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int CMirrorSocket_open_sender(int family, const uint8_t *bind_address, uint16_t port, int send_buffer_bytes) {
    int fd = open_udp(family, bind_address, port, 1);
    if (fd < 0) return fd;
    if (family == AF_INET) {
        int dont = IP_PMTUDISC_DONT;
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof(dont));
    } else {
        int dont = IPV6_PMTUDISC_DONT;
        setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont, sizeof(dont));
    }
    if (send_buffer_bytes > 0) {
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send_buffer_bytes, sizeof(int)) < 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof(int));
    }
    return fd;
}

int CMirrorSocket_open_receiver(int family, const uint8_t *address, uint16_t port, int reuse_port,
                                int receive_buffer_bytes) {
    int fd = open_udp(family, address, port, reuse_port);
    if (fd < 0) return fd;
    if (receive_buffer_bytes > 0) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes, sizeof(int)) < 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(int));
    }
    return fd;
}

int CMirrorSocket_connect(int fd, const CMirrorSocket_address *address) {
    return connect(fd, (const struct sockaddr *)&address->storage, address->length) < 0 ? -errno : 0;
}

int CMirrorSocket_local_port(int fd) {
    struct sockaddr_storage s;
    socklen_t len = sizeof(s);
    if (getsockname(fd, (struct sockaddr *)&s, &len) < 0) return -errno;
    if (s.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&s)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&s)->sin6_port);
}

enum { GSO_MAX_SEGMENTS = 64, GSO_MAX_BYTES = 65000 };

/// How many datagrams from `k` form one GSO run: equal lengths (the last may be shorter), one destination.
static unsigned gso_run(const uint32_t *lengths, const uint16_t *address_index, const CMirrorSocket_address *addresses,
                        unsigned k, unsigned count) {
    uint32_t size = lengths[k];
    uint32_t total = size;
    unsigned n = 1;
    while (k + n < count && n < GSO_MAX_SEGMENTS && total + lengths[k + n] <= GSO_MAX_BYTES &&
           lengths[k + n] <= size && (!addresses || address_index[k + n] == address_index[k])) {
        total += lengths[k + n];
        n++;
        if (lengths[k + n - 1] < size) break;  // a shorter datagram can only end a run
    }
    return n;
}

int CMirrorSocket_send_batch(int fd, const uint8_t *base, const uint32_t *offsets, const uint32_t *lengths,
                             const CMirrorSocket_address *addresses, const uint16_t *address_index,
                             unsigned count, int *use_gso, int *error, unsigned *refused) {
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    unsigned segments[BATCH];  // datagrams in each message
    union { char buffer[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } controls[BATCH];
    unsigned done = 0;
    *error = 0;
    while (done < count) {
        // Lay out up to BATCH datagrams as messages: single datagrams, or GSO runs.
        unsigned m = 0, v = 0, k = done;
        while (k < count && v < BATCH) {
            unsigned n = *use_gso ? gso_run(lengths, address_index, addresses, k, count) : 1;
            if (n > BATCH - v) n = BATCH - v;
            struct msghdr *h = &messages[m].msg_hdr;
            memset(h, 0, sizeof(*h));
            if (addresses) {
                const CMirrorSocket_address *to = &addresses[address_index[k]];
                h->msg_name = (void *)&to->storage;
                h->msg_namelen = to->length;
            }
            for (unsigned i = 0; i < n; i++) {
                vectors[v + i].iov_base = (void *)(base + offsets[k + i]);
                vectors[v + i].iov_len = lengths[k + i];
            }
            h->msg_iov = &vectors[v];
            h->msg_iovlen = n;
            if (n > 1) {
                h->msg_control = controls[m].buffer;
                h->msg_controllen = sizeof(controls[m].buffer);
                struct cmsghdr *c = CMSG_FIRSTHDR(h);
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                uint16_t size = (uint16_t)lengths[k];
                memcpy(CMSG_DATA(c), &size, sizeof(size));
            }
            segments[m] = n;
            m++;
            v += n;
            k += n;
        }
        int r = sendmmsg(fd, messages, m, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == ECONNREFUSED) {
                (*refused)++;
                continue;
            }
            if (segments[0] > 1 && (errno == EINVAL || errno == EIO || errno == EMSGSIZE || errno == ENOPROTOOPT ||
                                    errno == EOPNOTSUPP)) {
                // The kernel refused GSO: send this run (and everything after) one datagram at a time.
                *use_gso = 0;
                continue;
            }
            *error = errno;
            return (int)done;
        }
        for (int i = 0; i < r; i++) done += segments[i];
    }
    return (int)done;
}

int CMirrorSocket_receive_batch(int fd, uint8_t *buffers, unsigned buffer_size, unsigned count, int timeout_ms,
                                uint32_t *lengths, uint8_t *truncated, CMirrorSocket_address *sources) {
    if (count > BATCH) count = BATCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready;
    do { ready = poll(&p, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
    if (ready < 0) return -errno;
    if (ready == 0) return 0;
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (unsigned i = 0; i < count; i++) {
        vectors[i].iov_base = buffers + (size_t)i * buffer_size;
        vectors[i].iov_len = buffer_size;
        memset(&messages[i].msg_hdr, 0, sizeof(messages[i].msg_hdr));
        messages[i].msg_hdr.msg_name = &sources[i].storage;
        messages[i].msg_hdr.msg_namelen = sizeof(sources[i].storage);
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    int r;
    do { r = recvmmsg(fd, messages, count, MSG_DONTWAIT, NULL); } while (r < 0 && errno == EINTR);
    if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < r; i++) {
        lengths[i] = messages[i].msg_len;
        truncated[i] = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        sources[i].length = messages[i].msg_hdr.msg_namelen;
    }
    return r;
}

int CMirrorSocket_poll_readable(const int *fds, unsigned count, int timeout_ms, uint8_t *ready) {
    struct pollfd p[64];
    if (count > 64) count = 64;
    for (unsigned i = 0; i < count; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    int r = poll(p, count, timeout_ms);
    if (r < 0) return -errno;
    for (unsigned i = 0; i < count; i++) ready[i] = (p[i].revents & POLLIN) != 0;
    return r;
}

void CMirrorSocket_close(int fd) { close(fd); }
