package queue

// AckDeletes exposes the ack's DELETE statements to the plan test.
var AckDeletes = ackDeletes
