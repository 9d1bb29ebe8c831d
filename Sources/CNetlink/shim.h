// libnl route: interfaces, addresses and link events for live attach.
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/cache.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
