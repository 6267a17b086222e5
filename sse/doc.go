// Package sse is a Server-Sent Events (EventSource) client that follows the
// WHATWG HTML standard's processing model exactly, with nothing but the
// standard library.
//
// It has two layers:
//
//   - [Parser] implements "interpreting an event stream"
//     (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
//     UTF-8 decoding with one leading BOM stripped, CR / LF / CRLF line
//     endings even when split across reads, comments, field parsing, the
//     data / event / id / retry fields, and dispatch on a blank line. It is a
//     synchronous pull loop like [bufio.Scanner]: it starts no goroutines and
//     reads only when the caller asks for the next event, so a slow consumer
//     back-pressures the connection.
//
//   - [EventSource] implements the rest of the processing model
//     (https://html.spec.whatwg.org/multipage/server-sent-events.html#the-eventsource-interface):
//     the request with Accept, Cache-Control and Last-Event-ID, the
//     readyState machine, "fail the connection" for a bad status or content
//     type, and "reestablish the connection" after a network error or the end
//     of the body, waiting the reconnection time the server set with retry.
//
// The API mirrors the EventSource interface as Cloudflare Workers documents it:
// [New] is `new EventSource(url, options)`, [Options.Client] is the
// `fetcher` option, and [From] is `EventSource.from(stream)`. Instead of
// message / open / error event listeners, events are pulled with
// [EventSource.Next], and the open and error notifications are the
// [Options.OnOpen] and [Options.OnError] callbacks. [EventSource.Restart],
// which the standard does not have, forces a reconnection without closing.
//
// # Deliberate choices where the standard leaves room
//
//   - The last event ID persists across reconnections, as every browser
//     implements it: an event on a new connection that carries no id keeps the
//     previous ID. (Read literally, the standard would reset the per-stream
//     buffer to the empty string.)
//   - An event larger than [ParserOptions.MaxEventSize] is skipped to its end
//     and reported as [ErrEventTooLarge]; the stream continues. Browsers have
//     no such bound; a long-running pipeline needs one.
//   - Only an ID that can be sent is a resume point. The standard lets an
//     id hold any character but NUL and browsers send it raw, but Go's
//     net/http refuses a header value with a control character, and servers
//     refuse huge headers, so such an id would make every reconnection
//     fail. An id that is not a [SendableID] (a byte below 0x20 other than
//     tab, 0x7f, or more than [MaxIDLength] bytes) is still the
//     [Event.LastEventID] of its event and of the events after it on that
//     connection, but [EventSource.LastEventID] and the Last-Event-ID of
//     the next reconnection stay at the last sendable ID, and
//     [Options.OnIDNotSendable] is told. The stream always reconnects; the
//     server may send again the events after the sendable ID (delivery is
//     at least once, as with any resume). [New] refuses an unsendable
//     [Options.LastEventID] with [ErrIDNotSendable].
//   - Backoff, a cap on the reconnection time, an idle timeout and giving
//     up after [Options.MaxElapsedTime] are options, off or generous by
//     default; the standard permits them ("user agents might introduce an
//     exponential backoff delay").
//   - A refused response's body is read, at most [MaxBodyExcerpt] bytes for
//     about a second, into [ResponseError.Body], since that is where APIs
//     say why; the error text is bounded whatever the server sends.
//   - Comments are ignored, as the standard says, unless
//     [Options.OnComment] asks for them.
package sse
