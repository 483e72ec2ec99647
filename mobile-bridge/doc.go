// Package bridge is the device protocol: the wire messages of the device API, the canonical
// challenge a device signs to approve or decline, and the RFC 9421 request signatures that
// authenticate every device call. It depends only on the standard library and the domain
// types, so the device SDK (mobile-bridge/client) stays small enough for gomobile.
//
// # Challenge layout (version 1)
//
// The challenge is the concatenation of:
//
//	"KYSO-CHALLENGE" 0x00 0x01          magic and version
//	str(session id)
//	str(relying-party id)
//	str(relying-party name)
//	str(hash algorithm)                 "SHA-256" | "SHA-384" | "SHA-512"
//	str(signature algorithm)
//	u32(number of documents)
//	  for each document: str(label) str(hash bytes)
//	str(display text)
//	str(verification code)              4 ASCII digits; in the verificationCodeChoice
//	                                    interaction, the three codes shown, comma-separated
//	u64(expiry, Unix seconds)
//
// where u32 and u64 are big-endian and str(x) is u32(len(x)) followed by the bytes of x
// (text as UTF-8). The device signs challenge || decision, where decision is the ASCII word
// "approve" or "decline" (in the code-choice interaction an approval is "approve:" followed by
// the picked code), with ECDSA P-256 over SHA-256, DER-encoded. The layout is fixed by a
// known-answer test.
//
// # Caveats
//
//   - The challenge binds what the user is shown; a device should rebuild it from the fields it
//     displays (Challenge does that) and refuse to sign if it differs from the server's.
package bridge
