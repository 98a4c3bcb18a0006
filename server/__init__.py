"""The descent parameter server: job control, parameter store, Ray launcher, gRPC servicers."""
