/* The one header nettap's bindings are generated from, by jextract (tools/bindgen's probe reads it too):
 *   jextract @jextract.conf jextract/nettap.h
 * Include order matters: compat.h first (it fills in constants newer than the oldest supported
 * UAPI headers), then <sys/socket.h> (see below), then <linux/if.h> rather than glibc's <net/if.h>
 * (the two conflict). */
#ifndef NETTAP_H
#define NETTAP_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setns, CLONE_NEWNET, accept4, dup3, O_PATH, syscall */
#endif
#include "compat.h"

/* With _GNU_SOURCE, glibc declares the address parameter of bind, connect, accept and accept4 as a
 * transparent union (__CONST_SOCKADDR_ARG, __SOCKADDR_ARG). jextract turns that into a union passed
 * *by value*, which is wrong at run time (EFAULT): the C ABI passes a transparent union like its
 * first member, a pointer. So glibc's four declarations are renamed out of the way while
 * <sys/socket.h> is read, and the four are declared below in their POSIX form (plain pointers, as
 * glibc itself declares them without _GNU_SOURCE); the symbols are the same libc functions.
 * <sys/socket.h> must be the first header to include it, hence its place here. */
#define bind nettap_glibc_bind
#define connect nettap_glibc_connect
#define accept nettap_glibc_accept
#define accept4 nettap_glibc_accept4
#include <sys/socket.h>
#undef bind
#undef connect
#undef accept
#undef accept4
extern int bind(int __fd, const struct sockaddr *__addr, socklen_t __len);
extern int connect(int __fd, const struct sockaddr *__addr, socklen_t __len);
extern int accept(int __fd, struct sockaddr *__restrict __addr, socklen_t *__restrict __addr_len);
extern int accept4(int __fd, struct sockaddr *__restrict __addr, socklen_t *__restrict __addr_len, int __flags);

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
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stddef.h>
#include <linux/io_uring.h>

/* io_uring_sqe, io_uring_probe and io_uring_buf_ring keep members in anonymous unions and structs.
 * tools/bindgen does not model anonymous members and jextract names them after their source
 * position, so the offsets the engine needs are named here once, from the kernel's own struct
 * definitions (the drift test checks them like every other constant). */
#define NETTAP_SQE_SIZE sizeof(struct io_uring_sqe)
#define NETTAP_SQE_OPCODE offsetof(struct io_uring_sqe, opcode)
#define NETTAP_SQE_FLAGS offsetof(struct io_uring_sqe, flags)
#define NETTAP_SQE_IOPRIO offsetof(struct io_uring_sqe, ioprio)
#define NETTAP_SQE_FD offsetof(struct io_uring_sqe, fd)
#define NETTAP_SQE_OFF offsetof(struct io_uring_sqe, off)
#define NETTAP_SQE_ADDR offsetof(struct io_uring_sqe, addr)
#define NETTAP_SQE_LEN offsetof(struct io_uring_sqe, len)
#define NETTAP_SQE_OP_FLAGS offsetof(struct io_uring_sqe, rw_flags)
#define NETTAP_SQE_USER_DATA offsetof(struct io_uring_sqe, user_data)
#define NETTAP_SQE_BUF_INDEX offsetof(struct io_uring_sqe, buf_index)
#define NETTAP_SQE_PERSONALITY offsetof(struct io_uring_sqe, personality)
#define NETTAP_SQE_FILE_INDEX offsetof(struct io_uring_sqe, file_index)
#define NETTAP_SQE_ADDR3 offsetof(struct io_uring_sqe, addr3)
#define NETTAP_PROBE_SIZE sizeof(struct io_uring_probe)
#define NETTAP_PROBE_LAST_OP offsetof(struct io_uring_probe, last_op)
#define NETTAP_PROBE_OPS_LEN offsetof(struct io_uring_probe, ops_len)
#define NETTAP_PROBE_OPS offsetof(struct io_uring_probe, ops)
#define NETTAP_BUF_RING_TAIL offsetof(struct io_uring_buf_ring, tail)
#endif
