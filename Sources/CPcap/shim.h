// libpcap, imported whole: every function Swift needs is a plain function. Plus what Swift cannot say itself.
#include <pcap/pcap.h>

// A hint that the bytes at `address` are read soon (a mapped capture read ahead of the frames' analysis).
static inline void vpcmirror_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
