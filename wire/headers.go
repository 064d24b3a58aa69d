package wire

// Headers of every change-log message on the bus.
const (
	HeaderIndex = "Vasto-Index" // the origin's change-log index
	HeaderStore = "Vasto-Store" // the store that accepted the write
	HeaderDC    = "Vasto-DC"    // the DC where the write was accepted
	HeaderEpoch = "Vasto-Epoch" // the keyspace incarnation (in-DC replication)
)
