/* Constants newer than the oldest supported UAPI headers (Debian 12 ships linux-libc-dev 6.1).
 * Values are the kernel's ABI (include/uapi/linux/if_tun.h and virtio_net.h, 6.2+). */
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
#endif
