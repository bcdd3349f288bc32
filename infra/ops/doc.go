// Package ops is the operator's toolbox behind `fastpixctl`: re-sending
// alerts from stored events (replay), re-processing what the notifier gave
// up on (redrive), rotating the signing secret without a failed delivery,
// reading a stream's state and history (inspect), and who gets which
// alert: subscriptions of the alert topics with filter policies
// (subscribe, subscriptions, unsubscribe).
//
// Every command works on the same stores and the same notifier code as the
// functions (pkg/notify, pkg/streamstate, pkg/eventstore), so what a
// command does is what the notifier would have done.
package ops
