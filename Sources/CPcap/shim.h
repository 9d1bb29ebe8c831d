// libpcap, imported whole: every function Swift needs is a plain function, no macro needs a shim.
#include <pcap/pcap.h>
