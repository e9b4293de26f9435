"""Samples copied from the vendor's interface document, shared by the tests that parse them.

The status-report XML of spec 4.3 (pull) and 6.2 (push) is the same document, as is the
inbound XML of spec 5.3 and 6.3.
"""

from __future__ import annotations

#: spec 4.3 / 6.2: two status boxes, one delivered (10) and one failed (20).
STATUS_XML = """<?xml version="1.0" encoding="utf-8" ?>
<returnsms>
<statusbox>
<mobile>15023239810</mobile>
<taskid>1212</taskid>
<status>10</status>
<receivetime>2011-12-02 22:12:11</receivetime>
<errorcode>DELIVRD</errorcode>
<extno>01</extno>
</statusbox>
<statusbox>
<mobile>15023239811</mobile>
<taskid>1212</taskid>
<status>20</status>
<receivetime>2011-12-02 22:12:11</receivetime>
<errorcode>2</errorcode>
<extno></extno>
</statusbox>
</returnsms>"""

#: spec 5.3 / 6.3: two inbound messages.
CALL_XML = """<?xml version="1.0" encoding="utf-8" ?>
<returnsms>
<callbox>
<mobile>15023239810</mobile>
<taskid>1212</taskid>
<content>你好，我不需要</content>
<receivetime>2011-12-02 22:12:11</receivetime>
<extno>01</extno>
</callbox>
<callbox>
<mobile>15023239811</mobile>
<taskid>1212</taskid>
<content>你好，本次活动路线是怎么的</content>
<receivetime>2011-12-02 22:12:11</receivetime>
<extno>01</extno>
</callbox>
</returnsms>"""
