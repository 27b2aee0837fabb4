"""The Huawei cloud kernel: the only code that speaks HTTP (transport, sign-in, signer, wire, answers, paging)."""
