/* ring_ports.h -- test and benchmark helper: the dataplane's wire and
 * exception ports as net_ring ports whose rings the caller drives. */
#ifndef CAROUSEL_RING_PORTS_H
#define CAROUSEL_RING_PORTS_H

#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

struct ring_ports {
	struct rte_ring *wire_rx, *wire_tx, *exc_rx, *exc_tx; /* as the dataplane sees them */
	char wire[RTE_ETH_NAME_MAX_LEN], exc[RTE_ETH_NAME_MAX_LEN]; /* port names for devargs */
};

/* Rings of `size` slots, single producer and consumer each. Returns 0/-1. */
static inline int ring_ports_create(struct ring_ports *r, unsigned size)
{
	const unsigned f = RING_F_SP_ENQ | RING_F_SC_DEQ;

	r->wire_rx = rte_ring_create("wire_rx", size, 0, f);
	r->wire_tx = rte_ring_create("wire_tx", size, 0, f);
	r->exc_rx = rte_ring_create("exc_rx", size, 0, f);
	r->exc_tx = rte_ring_create("exc_tx", size, 0, f);
	if (!r->wire_rx || !r->wire_tx || !r->exc_rx || !r->exc_tx)
		return -1;
	int wire = rte_eth_from_rings("wire", &r->wire_rx, 1, &r->wire_tx, 1, 0);
	int exc = rte_eth_from_rings("exc", &r->exc_rx, 1, &r->exc_tx, 1, 0);

	if (wire < 0 || exc < 0 || rte_eth_dev_get_name_by_port((uint16_t)wire, r->wire) ||
	    rte_eth_dev_get_name_by_port((uint16_t)exc, r->exc))
		return -1;
	return 0;
}

#endif
