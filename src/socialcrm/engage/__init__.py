"""Layer L5. Engaging from the CRM: replies, comments and direct messages to a mention or a
ticket, sent through the connected accounts and logged as Activities (through ``crm``).

May import ``core`` and the layers L0 to L4 (every domain but itself).
"""
