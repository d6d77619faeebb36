"""deepexpr.data"""
