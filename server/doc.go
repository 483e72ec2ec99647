// Package server is Kyso's HTTP layer on Echo: routing, authentication of the three kinds of
// caller (operators by bearer token, relying parties by API key, devices by RFC 9421 request
// signatures), decoding and validating bodies, calling one signing.Service method, and
// encoding the answer. It is the one place where domain errors become RFC 9457 problem JSON.
//
// # Caveats
//
//   - Request bodies are limited to 1 MiB and must be valid UTF-8 JSON objects; unknown fields
//     are refused, so a misspelt field never silently falls back to a default.
//   - Query strings are never logged: they can hold national ids.
package server
