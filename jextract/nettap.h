/* The one header nettap's bindings are generated from, by jextract or by tools/bindgen:
 *   jextract @jextract.conf jextract/nettap.h
 * Include order matters: compat.h first (it fills in constants newer than the oldest supported
 * UAPI headers), then <linux/if.h> rather than glibc's <net/if.h> (the two conflict). */
#ifndef NETTAP_H
#define NETTAP_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setns, CLONE_NEWNET, accept4, dup3, O_PATH */
#endif
#include "compat.h"
#include <sys/socket.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/if_arp.h>
#include <linux/filter.h>
#include <linux/virtio_net.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <errno.h>
#endif
