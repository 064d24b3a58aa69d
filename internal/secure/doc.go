// Package secure holds what every Vasto process shares for security: TLS
// configurations built from certificate files (reloaded when the files
// change, so certificates rotate without a restart), secrets read from
// files and kept out of logs and errors (Secret), and a throwaway
// certificate authority for development and tests (GenerateDev).
//
// It imports the standard library only, so every package may use it, the
// client included. It never reads flags or the environment: cmd/vasto does.
package secure
