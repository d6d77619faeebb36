"""deepexpr.evaluation"""
