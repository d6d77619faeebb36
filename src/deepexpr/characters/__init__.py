"""deepexpr.characters"""
