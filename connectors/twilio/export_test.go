package twilio

// ValidSignature exposes the webhook signature check to the tests.
var ValidSignature = validSignature
