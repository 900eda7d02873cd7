/*
 * ip.h - IP addresses as dmarcstat stores and looks them up: one canonical text
 * per address, and address ranges (CIDR).
 *
 * The parser stores every <source_ip> in the canonical form written here, and
 * every query by address (explain --ip) normalises its argument with the same
 * function, so "::ffff:198.51.100.20", "198.051.100.020" and "198.51.100.20"
 * name one address everywhere.  Pure functions over strings: no allocation, no
 * I/O.
 */
#ifndef DM_IP_H
#define DM_IP_H

#include <stddef.h>

#include "model.h"

/* Room for any canonical address text with its NUL (INET6_ADDRSTRLEN). */
#define DM_IP_TEXT_MAX 46

/*
 * Writes the canonical text of the address s to out (outlen bytes, at least
 * DM_IP_TEXT_MAX): inet_ntop's form, so RFC 5952 for IPv6; an IPv4-mapped IPv6
 * address becomes its IPv4 address; IPv4 leading zeros are read as decimal and
 * dropped.  *fix is DM_FIXUP_COUNT when nothing changed, else the fix-up that
 * was applied (DM_FIXUP_IP_MAPPED, DM_FIXUP_IP_CANONICAL).  Returns 0, or -1
 * when s is not an address.
 */
int dm_ip_canon(const char *s, char *out, size_t outlen, enum dm_fixup *fix);

/* An address range: the first bits bits of addr (4 bytes for AF_INET). */
struct dm_ip_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits; /* 0-32 or 0-128; the full length for a single address */
};

/*
 * Parses "ADDRESS" or "ADDRESS/BITS" into *net, the address normalised as
 * dm_ip_canon does (an IPv4-mapped range ::ffff:a.b.c.d/N with N >= 96 becomes
 * the IPv4 range a.b.c.d/(N-96)).  Bits beyond the prefix are cleared.
 * Returns 0, -1 when the address is not one, -2 when the prefix length is not
 * a number within the family's range.
 */
int dm_ip_net_parse(const char *s, struct dm_ip_net *net);

/* 1 when net is a single address (all bits), 0 for a wider range. */
int dm_ip_net_single(const struct dm_ip_net *net);

/* The canonical text of net's address into out (DM_IP_TEXT_MAX bytes). */
const char *dm_ip_net_addr(
    const struct dm_ip_net *net, char *out, size_t outlen);

/* 1 when the address text ip (any form dm_ip_canon reads) lies in net. */
int dm_ip_net_contains(const struct dm_ip_net *net, const char *ip);

#endif /* DM_IP_H */
