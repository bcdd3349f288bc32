// Package board is the live board behind `fastpixctl board`: a small web
// server on the operator's machine that shows every stream and simulcast
// target of the fleet and changes as the change feed says they change.
//
// It reads the fleet once through the query API (Fleet), follows the
// change feed through a temporary SQS queue of its own subscribed to the
// feed topic (Follower), keeps the fleet in memory (State) and pushes each
// change to the browsers by Server-Sent Events (Hub). The page is embedded
// in the binary: plain HTML, CSS and JavaScript that puts every value it
// receives into the page as text, never as markup.
//
// The board's load on the stack does not grow with the changes: one fleet
// read at start (and when asked to re-read), then SQS long polls.
package board
