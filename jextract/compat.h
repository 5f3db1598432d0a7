/* Constants newer than the oldest supported UAPI headers (Debian 12 ships linux-libc-dev 6.1).
 * Values are the kernel's ABI (include/uapi/linux/if_tun.h and virtio_net.h, 6.2+; io_uring.h, 6.7+). */
#ifndef NETTAP_COMPAT_H
#define NETTAP_COMPAT_H
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
/* io_uring (include/uapi/linux/io_uring.h). IORING_OP_* are enumerators, which #ifndef cannot see,
 * so the header version decides: READ_MULTISHOT is op 49 from 6.7 on. */
#include <linux/version.h>
#include <linux/io_uring.h>
#if !defined(IORING_OP_READ_MULTISHOT) && LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#define IORING_OP_READ_MULTISHOT 49
#endif
#endif
