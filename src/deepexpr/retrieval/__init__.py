"""deepexpr.retrieval"""
