"""The sandbox's endpoints, one module per family of the ipyy document:

``plain``      sms.aspx, smsGBK.aspx, smsJson.aspx: sends and balances (spec 1, 3)
``encrypted``  ensms.ashx: the DES-encrypted send (spec 1.5)
``batch``      BatchSms.ashx: the personalised batch (spec 1.6)
``mms``        mms.aspx: MMS sends and balance (spec 2, 3)
``pulls``      statusApi / statusJsonApi / callApi / callJsonApi.aspx (spec 4, 5)
``password``   pwd.aspx (spec 7)
``soap``       WebService.asmx and its WSDL (spec 8, wire notes §1)
``admin``      the JSON admin and inspection API under ``/_sandbox/``

``_common`` holds what they share: reading parameters, the :class:`~._common.Call` that
becomes the request's log entry, the checks of a send and the ``<returnsms>`` replies.
This package is an independent implementation of the protocol: it imports nothing of the
client side of ``smsgate_ipyy``, so tests running one against the other cross-check both.
"""
