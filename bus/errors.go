package bus

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrBadName is returned for a name that is not 1-64 ASCII letters,
	// digits, '-' or '_', or a subject that is not a valid Vasto subject.
	ErrBadName = errors.New("bus: bad name")
	// ErrBadMessage is returned for a message whose header or id cannot be
	// sent safely (reserved Nats-* header, control characters).
	ErrBadMessage = errors.New("bus: bad message")
	// ErrConflict is returned by PutTopology when the topology exists
	// (create) or its revision is not the expected one (compare-and-set).
	ErrConflict = errors.New("bus: conflict")
	// ErrNoTopology is returned when the topology bucket or document does
	// not exist.
	ErrNoTopology = errors.New("bus: no topology")
	// ErrNoMessage is returned by FirstOnSubject and LastOnSubject when the
	// stream holds no message on the subject (at or after the sequence).
	ErrNoMessage = errors.New("bus: no message")
	// ErrNoStream is returned when a stream does not exist.
	ErrNoStream = errors.New("bus: no such stream")
	// ErrNoConsumer is returned by ConsumerPending when the durable
	// consumer (or its stream) does not exist.
	ErrNoConsumer = errors.New("bus: no such consumer")
	// ErrRemote wraps the error a request handler returned.
	ErrRemote = errors.New("bus: remote error")
	// ErrNoResponders is returned by Request when nobody handles the
	// subject.
	ErrNoResponders = errors.New("bus: no responders")
	// ErrClosed is returned by operations on a closed connection or a
	// stopped consumer.
	ErrClosed = errors.New("bus: closed")
	// ErrPermission is returned (or reported to ConnConfig.OnError) when
	// the server refuses the connection's credentials or an operation its
	// permissions do not allow.
	ErrPermission = errors.New("bus: permission denied")
	// ErrReplicas is returned when a stream or bucket cannot get the
	// replicas it asks for: the server is not clustered, or its cluster
	// has fewer servers with JetStream online than replicas.
	ErrReplicas = errors.New("bus: not enough NATS servers for the replicas")
	// ErrInvalidConfig is returned for an invalid configuration.
	ErrInvalidConfig = errors.New("bus: invalid config")
)
